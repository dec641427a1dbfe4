#ifndef MLCUBE_REMOTE_COMMON_YAML_FIELD_READER_H_
#define MLCUBE_REMOTE_COMMON_YAML_FIELD_READER_H_

// Reads typed fields out of a parsed YAML file with one-line errors that
// name the file and the key path ("hosts.yaml: hosts.a.runtime: ..."). Shared
// by the cube schema and the hosts file.

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mlcube {

class YamlFieldReader {
 public:
  explicit YamlFieldReader(std::string file_name) : file_name_(std::move(file_name)) {}

  // INVALID_ARGUMENT "FILE: KEY_PATH: WHAT".
  absl::Status Error(const std::string& key_path, const std::string& what) const;

  // The scalar under `key` as text; `fallback` when it is absent or null, an
  // error when it is a mapping or a sequence.
  absl::StatusOr<std::string> String(const YAML::Node& parent, const std::string& key,
                                     const std::string& key_path,
                                     const std::string& fallback = "") const;

  // An error naming the first key of the mapping `node` not in `allowed`;
  // OK for anything that is not a mapping.
  absl::Status CheckKeys(const YAML::Node& node, const std::string& key_path,
                         const std::vector<std::string>& allowed) const;

  const std::string& file_name() const { return file_name_; }

 private:
  std::string file_name_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_YAML_FIELD_READER_H_
