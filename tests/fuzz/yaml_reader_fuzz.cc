// libFuzzer target for the one YAML reader (common/yaml_reader.h and its
// limits). Whatever ParseYaml accepts must be safe to walk recursively: the
// walk below follows aliases as every caller does and traps when it sees
// more nodes, more depth or more scalar bytes than the limits promise (an
// alias bomb or cycle that got through). Half the inputs are read with
// small limits, so the fuzzer reaches every refusal quickly.

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/yaml_limits.h"
#include "common/yaml_reader.h"

namespace {

struct Walk {
  size_t nodes = 0;
  size_t bytes = 0;
  int depth = 0;
};

void Visit(const YAML::Node& node, int depth, const mlcube::YamlLimits& limits, Walk* walk) {
  ++walk->nodes;
  walk->depth = std::max(walk->depth, depth);
  if (walk->nodes > limits.max_nodes + limits.max_alias_nodes || depth > limits.max_depth) {
    __builtin_trap();
  }
  if (node.IsScalar()) {
    walk->bytes += node.Scalar().size();
  } else if (node.IsSequence()) {
    for (const YAML::Node& item : node) Visit(item, depth + 1, limits, walk);
  } else if (node.IsMap()) {
    for (const auto& entry : node) {
      Visit(entry.first, depth + 1, limits, walk);
      Visit(entry.second, depth + 1, limits, walk);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  mlcube::YamlLimits limits;
  if (data[0] & 1) {
    limits.max_depth = 8;
    limits.max_nodes = 200;
    limits.max_alias_nodes = 50;
    limits.max_alias_bytes = 256;
  }
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  absl::StatusOr<YAML::Node> node = mlcube::ParseYaml(text, "fuzz.yaml", limits);
  if (!node.ok()) {
    // One line, always.
    if (node.status().message().find('\n') != absl::string_view::npos) __builtin_trap();
    return 0;
  }
  Walk walk;
  Visit(*node, 0, limits, &walk);
  // yaml-cpp reads an invalid UTF-8 byte as U+FFFD (three bytes), so the
  // text's scalars may hold up to three times its size.
  if (walk.bytes > 3 * text.size() + limits.max_alias_bytes) __builtin_trap();
  (void)mlcube::EmitYaml(*node);
  return 0;
}
