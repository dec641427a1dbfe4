#ifndef MLCUBE_REMOTE_COMMON_YAML_READER_H_
#define MLCUBE_REMOTE_COMMON_YAML_READER_H_

// yaml-cpp throws; these wrappers turn every parse problem into a Status that
// names the file (and line), so no exception leaves the module.

#include <yaml-cpp/yaml.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mlcube {

// Parses `text`; `file_name` is only used in messages.
absl::StatusOr<YAML::Node> ParseYaml(const std::string& text, absl::string_view file_name);

// Reads and parses a file. NOT_FOUND when it does not exist; `display_name`
// is what messages call it.
absl::StatusOr<YAML::Node> ReadYamlFile(const std::string& path, absl::string_view display_name);

// "a mapping", "a sequence", "a scalar", "null": for "expected X, got Y".
std::string DescribeNodeKind(const YAML::Node& node);

// Emits a node as block-style YAML text.
std::string EmitYaml(const YAML::Node& node);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_YAML_READER_H_
