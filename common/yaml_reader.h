#ifndef MLCUBE_REMOTE_COMMON_YAML_READER_H_
#define MLCUBE_REMOTE_COMMON_YAML_READER_H_

// The one way the programs read YAML. yaml-cpp throws; these wrappers turn
// every parse problem into a Status that names the file (and line), so no
// exception leaves the module. Every document is first checked against
// YamlLimits (common/yaml_limits.h: size, nesting, nodes, what aliases
// expand to, no cycles), so callers may walk what they get back
// recursively without bounding the walk themselves.

#include <yaml-cpp/yaml.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/yaml_limits.h"

namespace mlcube {

// Parses the first document of `text`; `file_name` is only used in
// messages. INVALID_ARGUMENT, one line "FILE:LINE:COLUMN: ...", for bad
// syntax and for documents past `limits`.
absl::StatusOr<YAML::Node> ParseYaml(const std::string& text, absl::string_view file_name,
                                     const YamlLimits& limits = YamlLimits());

// Reads and parses a file. NOT_FOUND when it does not exist; `display_name`
// is what messages call it. A file over limits.max_bytes is refused without
// reading it all.
absl::StatusOr<YAML::Node> ReadYamlFile(const std::string& path, absl::string_view display_name,
                                        const YamlLimits& limits = YamlLimits());

// The value under `key` when `node` is a mapping, else an undefined node.
// Never inserts and never throws (yaml-cpp's operator[] throws on scalars).
YAML::Node YamlChild(const YAML::Node& node, const std::string& key);

// Runs `body`, turning any exception that escapes it (yaml-cpp throws on
// misuse) into INTERNAL naming `file_name`, so nothing escapes the module.
template <typename Result, typename Body>
Result GuardYaml(absl::string_view file_name, Body body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(file_name, ": unexpected error: ", e.what()));
  }
}

// "a mapping", "a sequence", "a scalar", "null": for "expected X, got Y".
std::string DescribeNodeKind(const YAML::Node& node);

// Emits a node as block-style YAML text.
std::string EmitYaml(const YAML::Node& node);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_YAML_READER_H_
