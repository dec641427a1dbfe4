#include "common/yaml_field_reader.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/yaml_reader.h"

namespace mlcube {

absl::Status YamlFieldReader::Error(const std::string& key_path, const std::string& what) const {
  return absl::InvalidArgumentError(absl::StrCat(file_name_, ": ", key_path, ": ", what));
}

absl::StatusOr<std::string> YamlFieldReader::String(const YAML::Node& parent,
                                                    const std::string& key,
                                                    const std::string& key_path,
                                                    const std::string& fallback) const {
  const YAML::Node node = YamlChild(parent, key);
  if (!node.IsDefined() || node.IsNull()) return fallback;
  if (!node.IsScalar()) {
    return Error(key_path, absl::StrCat("expected a value, got ", DescribeNodeKind(node)));
  }
  return node.Scalar();
}

absl::Status YamlFieldReader::CheckKeys(const YAML::Node& node, const std::string& key_path,
                                        const std::vector<std::string>& allowed) const {
  if (!node.IsMap()) return absl::OkStatus();
  const std::set<std::string> known(allowed.begin(), allowed.end());
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = it->first.Scalar();
    if (known.count(key) == 0) {
      return Error(
          key_path.empty() ? key : absl::StrCat(key_path, ".", key),
          absl::StrCat("unknown key (expected one of: ", absl::StrJoin(allowed, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace mlcube
