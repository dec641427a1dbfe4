#ifndef MLCUBE_REMOTE_COMMON_CUBE_LOADER_H_
#define MLCUBE_REMOTE_COMMON_CUBE_LOADER_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/cube.h"

namespace mlcube {

struct CubeLoadOptions {
  // A cube directory or its mlcube.yaml.
  std::string path = ".";
  // Optional platform file merged over the cube's settings: an older
  // layout's platform/docker.yaml or a file in the single-file format.
  std::string platform_file;
  // Optional workspace directory replacing ROOT/workspace.
  std::string workspace;
  // `key.path=value` overrides (-P), applied before interpolation.
  std::vector<std::string> overrides;
  // Host-side settings merged under the cube's own (a hosts file entry's
  // docker:/singularity: blocks); the cube and platform file win.
  YAML::Node host_defaults;
  // What ${oc.env:VAR} reads. Unset: this process's environment (the
  // controller, on the user's machine). The agent always sets it, to the
  // variables the request carries: a cube must never read the agent's own
  // environment (its secrets, its paths).
  std::optional<std::map<std::string, std::string>> environment;
};

// Loads a cube in either layout. Errors are INVALID_ARGUMENT (bad content) or
// NOT_FOUND (missing files), with a one-line message that names the file and
// the key path, e.g.
//   mlcube.yaml: tasks.train.parameters.inputs.data_dir.type: expected 'file'
//   or 'directory', got 'dir'
// Never throws.
absl::StatusOr<Cube> LoadCube(const CubeLoadOptions& options);

// The workspace-relative paths of the outputs of `tasks` (names not in the
// cube are skipped) that lie inside the cube's workspace (the workspace
// itself excluded), in task and parameter order: what a job's pull brings
// back and where its metrics file may lie.
std::vector<std::string> WorkspaceOutputPaths(const Cube& cube,
                                              const std::vector<std::string>& tasks);

// Same as LoadCube for a cube whose files are in memory (fuzzing, tests):
// `mlcube_yaml` is the text of mlcube.yaml of a single-file cube at `root`.
absl::StatusOr<Cube> LoadCubeFromString(const std::string& mlcube_yaml, const std::string& root,
                                        const CubeLoadOptions& options);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_CUBE_LOADER_H_
