#include "common/config_tree.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/yaml_reader.h"

namespace mlcube {

void MergeInto(YAML::Node base, const YAML::Node& overlay) {
  if (!overlay.IsMap()) return;
  for (auto it = overlay.begin(); it != overlay.end(); ++it) {
    const std::string key = it->first.Scalar();
    const YAML::Node& const_base = base;
    YAML::Node existing = const_base[key];
    if (existing.IsDefined() && existing.IsMap() && it->second.IsMap()) {
      MergeInto(existing, it->second);
    } else {
      base[key] = YAML::Clone(it->second);
    }
  }
}

void MergeUnder(YAML::Node base, const YAML::Node& defaults) {
  if (!defaults.IsMap()) return;
  for (auto it = defaults.begin(); it != defaults.end(); ++it) {
    const std::string key = it->first.Scalar();
    const YAML::Node& const_base = base;
    YAML::Node existing = const_base[key];
    if (!existing.IsDefined() || existing.IsNull()) {
      base[key] = YAML::Clone(it->second);
    } else if (existing.IsMap() && it->second.IsMap()) {
      MergeUnder(existing, it->second);
    }
  }
}

namespace {

absl::Status ApplyOverrideUnguarded(YAML::Node root, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  auto invalid = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("-P ", assignment, ": ", why));
  };
  if (eq == std::string::npos) return invalid("expected key.path=value");
  const std::string key_path = assignment.substr(0, eq);
  const std::string value = assignment.substr(eq + 1);
  if (key_path.empty()) return invalid("empty key path");
  std::vector<std::string> parts = absl::StrSplit(key_path, '.');
  YAML::Node node = root;
  std::string walked;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    if (part.empty()) return invalid("empty component in key path");
    walked = walked.empty() ? part : absl::StrCat(walked, ".", part);
    if (!node.IsMap() && !node.IsNull()) {
      return invalid(
          absl::StrCat("'", walked, "' is inside ", DescribeNodeKind(node), ", not a mapping"));
    }
    if (i + 1 == parts.size()) {
      const YAML::Node& const_node = node;
      YAML::Node existing = const_node[part];
      if (existing.IsDefined() && (existing.IsMap() || existing.IsSequence())) {
        return invalid(
            absl::StrCat("'", walked, "' is ", DescribeNodeKind(existing), ", not a value"));
      }
      node[part] = value;
      return absl::OkStatus();
    }
    const YAML::Node& const_node = node;
    const YAML::Node existing = const_node[part];
    if (!existing.IsDefined() || existing.IsNull()) node[part] = YAML::Node(YAML::NodeType::Map);
    YAML::Node child = node[part];
    node.reset(child);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyOverride(YAML::Node root, const std::string& assignment) {
  return GuardYaml<absl::Status>(absl::StrCat("-P ", assignment),
                                 [&] { return ApplyOverrideUnguarded(root, assignment); });
}

namespace {

void Flatten(const YAML::Node& node, const std::string& prefix,
             std::map<std::string, std::string>* out) {
  if (node.IsScalar()) {
    if (!prefix.empty()) (*out)[prefix] = node.Scalar();
    return;
  }
  if (!node.IsMap()) return;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = it->first.Scalar();
    Flatten(it->second, prefix.empty() ? key : absl::StrCat(prefix, ".", key), out);
  }
}

}  // namespace

std::map<std::string, std::string> FlattenScalars(const YAML::Node& root) {
  std::map<std::string, std::string> out;
  Flatten(root, "", &out);
  return out;
}

absl::StatusOr<YAML::Node> TreeFromKeyPaths(const std::map<std::string, std::string>& values) {
  YAML::Node root(YAML::NodeType::Map);
  for (const auto& [key, value] : values) {
    absl::Status status = ApplyOverride(root, absl::StrCat(key, "=", value));
    if (!status.ok()) return status;
  }
  return root;
}

YAML::Node FindKeyPath(const YAML::Node& root, const std::string& key_path) {
  YAML::Node node = root;
  const std::vector<std::string> parts = absl::StrSplit(key_path, '.');
  for (const std::string& part : parts) {
    const YAML::Node& current = node;
    if (!current.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node next = current[part];
    if (!next.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
    node.reset(next);
  }
  return node;
}

}  // namespace mlcube
