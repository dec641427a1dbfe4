#ifndef MLCUBE_REMOTE_COMMON_CONFIG_TREE_H_
#define MLCUBE_REMOTE_COMMON_CONFIG_TREE_H_

// Operations on configuration trees (YAML nodes) used to layer defaults,
// host settings, the cube file, a platform file and -P overrides.

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mlcube {

// Deep-merges `overlay` into `base`: mappings merge key by key, anything else
// in the overlay replaces what base had. The overlay is copied, not shared.
void MergeInto(YAML::Node base, const YAML::Node& overlay);

// Fills in what `base` lacks from `defaults`, recursing into mappings both
// have; keys already in base keep their value and their order.
void MergeUnder(YAML::Node base, const YAML::Node& defaults);

// Applies one `-P key.path=value` override: sets the scalar at the dotted
// key path, creating mappings on the way. Fails (naming the override) when
// there is no '=', the key path is empty or has an empty component, or it
// runs through a value that is not a mapping.
absl::Status ApplyOverride(YAML::Node root, const std::string& assignment);

// Every scalar of a tree as "key.path" -> value (sequences are skipped):
// how a tree travels in a flat protobuf map.
std::map<std::string, std::string> FlattenScalars(const YAML::Node& root);

// The inverse of FlattenScalars. Fails like ApplyOverride on conflicting
// paths ("a=1" and "a.b=2").
absl::StatusOr<YAML::Node> TreeFromKeyPaths(const std::map<std::string, std::string>& values);

// The node at a dotted key path, or an undefined node. Never inserts.
YAML::Node FindKeyPath(const YAML::Node& root, const std::string& key_path);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_CONFIG_TREE_H_
