#ifndef MLCUBE_REMOTE_COMMON_CONFIG_INTERPOLATOR_H_
#define MLCUBE_REMOTE_COMMON_CONFIG_INTERPOLATOR_H_

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mlcube {

// Resolves `${...}` references in every scalar of a configuration tree the
// way MLCube (OmegaConf) does, rewriting the tree in place:
//   ${a.b.c}                 the scalar at key path a.b.c of the root
//   ${workspace}             runtime.workspace unless the root has `workspace`
//   ${oc.env:VAR}            environment variable VAR (error when unset)
//   ${oc.env:VAR,default}    ... or `default` when unset
//   \${...}                  a literal "${...}"
// Errors name the file, the key path being resolved and the reference, and
// report cycles with their chain. Output is bounded: a value that grows past
// kMaxValueBytes, or values that together pass kMaxTotalBytes (references
// that double a string at every level grow exponentially), fail with an
// error naming the key, before the memory is spent.
class ConfigInterpolator {
 public:
  static constexpr size_t kMaxValueBytes = size_t{1} << 20;
  static constexpr size_t kMaxTotalBytes = size_t{16} << 20;

  // Returns true and sets *value when the variable is set.
  using EnvLookup = std::function<bool(const std::string& name, std::string* value)>;

  ConfigInterpolator(std::string file_name, EnvLookup env);

  absl::Status ResolveAll(YAML::Node root);

  // An EnvLookup over the process environment.
  static EnvLookup ProcessEnvironment();

 private:
  absl::Status Visit(YAML::Node node, const std::string& key_path);
  absl::StatusOr<std::string> ResolveScalar(const std::string& key_path, const std::string& raw);
  absl::StatusOr<std::string> ResolveReference(const std::string& from_key_path,
                                               const std::string& reference);
  absl::StatusOr<std::string> ResolveKeyPath(const std::string& from_key_path,
                                             const std::string& target);
  absl::Status Error(const std::string& key_path, const std::string& what) const;

  std::string file_name_;
  EnvLookup env_;
  YAML::Node root_;
  std::map<std::string, std::string> resolved_;
  std::vector<std::string> in_progress_;
  size_t total_bytes_ = 0;  // of the values resolved so far
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_CONFIG_INTERPOLATOR_H_
