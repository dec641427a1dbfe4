#ifndef MLCUBE_REMOTE_COMMON_EFFECTIVE_CONFIG_H_
#define MLCUBE_REMOTE_COMMON_EFFECTIVE_CONFIG_H_

// A cube's effective configuration in the shape `mlcube show_config` prints
// it, so a user can diff the two: the cube's own keys as written, every
// parameter expanded to {type, default} (type "unknown" when the cube gives
// none and the path has no trailing '/'), `runtime: {root, workspace}`,
// `workspace`, and `runner`: the chosen runner's settings with MLCube's
// defaults (singularity derived from docker: when the cube has no
// singularity: section).

#include <yaml-cpp/yaml.h>

#include <string>

#include "common/cube.h"

namespace mlcube {

class EffectiveConfig {
 public:
  explicit EffectiveConfig(const Cube& cube) : cube_(cube) {}

  // `runner`: "docker" or "singularity".
  YAML::Node ForRunner(const std::string& runner) const;

 private:
  YAML::Node Tasks() const;
  YAML::Node DockerRunner() const;
  YAML::Node SingularityRunner() const;
  // The cube's singularity: section as MLCube's runner leaves it; not a map
  // when the cube has none (or an empty one).
  YAML::Node SingularitySection() const;

  const Cube& cube_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_EFFECTIVE_CONFIG_H_
