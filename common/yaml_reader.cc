#include "common/yaml_reader.h"

#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/safe_path.h"

namespace mlcube {

absl::StatusOr<YAML::Node> ParseYaml(const std::string& text, absl::string_view file_name,
                                     const YamlLimits& limits) {
  absl::Status within = CheckYamlLimits(text, file_name, limits);
  if (!within.ok()) return within;
  try {
    YAML::Node node = YAML::Load(text);
    return node;
  } catch (const YAML::Exception& e) {
    // Marks are zero-based. The message may quote the text: kept one line.
    return absl::InvalidArgumentError(absl::StrCat(PrintableExcerpt(file_name, 4096), ":",
                                                   e.mark.line + 1, ":", e.mark.column + 1,
                                                   ": invalid YAML: ", PrintableExcerpt(e.msg)));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(PrintableExcerpt(file_name, 4096),
                                                   ": invalid YAML: ", PrintableExcerpt(e.what())));
  }
}

absl::StatusOr<YAML::Node> ReadYamlFile(const std::string& path, absl::string_view display_name,
                                        const YamlLimits& limits) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(display_name, ": cannot open file"));
  // Read in chunks: one byte past the limit is enough to refuse the file.
  std::string text;
  char chunk[64 * 1024];
  while (text.size() <= limits.max_bytes && in.read(chunk, sizeof chunk).gcount() > 0) {
    text.append(chunk, static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat(display_name, ": read error"));
  if (text.size() > limits.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(display_name, ": over the limit of ",
                                                   limits.max_bytes, " bytes for a YAML file"));
  }
  return ParseYaml(text, display_name, limits);
}

YAML::Node YamlChild(const YAML::Node& node, const std::string& key) {
  if (!node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  return node[key];
}

std::string DescribeNodeKind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Scalar:
      return absl::StrCat("'", node.Scalar(), "'");
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "nothing";
  }
  return "nothing";
}

std::string EmitYaml(const YAML::Node& node) {
  YAML::Emitter out;
  out.SetIndent(2);
  out << node;
  return std::string(out.c_str(), out.size());
}

}  // namespace mlcube
