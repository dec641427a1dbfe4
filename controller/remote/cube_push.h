#ifndef MLCUBE_REMOTE_CONTROLLER_REMOTE_CUBE_PUSH_H_
#define MLCUBE_REMOTE_CONTROLLER_REMOTE_CUBE_PUSH_H_

// Pushing a loaded cube to an agent, the same way for `sync push`, `run` and
// `configure`: the cube's .mlcubeignore, the hosts file's `exclude` list and
// the built-in image rules decide what moves, and container images (the
// Singularity image dir, WORKSPACE/.image, *.sif, *.simg) never do.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/cube.h"
#include "controller/sync/sync_client.h"
#include "controller/terminal/console.h"

namespace mlcube {

struct CubePushRequest {
  const Cube* cube = nullptr;
  std::string cube_id;
  // Extra gitignore-syntax patterns (the hosts file's `exclude`).
  std::vector<std::string> exclude;
  bool dry_run = false;
  bool prune = true;
  // When set, the only protocol features the push uses (comma-separated;
  // "" for none): $MLCUBE_REMOTE_SYNC_FEATURES, to compare with the plain
  // protocol.
  std::optional<std::string> sync_features;
};

// Pushes and reports warnings through `console`; progress is shown unless
// the console is quiet, as a redrawn bar on a terminal.
absl::StatusOr<PushStats> PushCube(SyncClient& client, const CubePushRequest& request,
                                   const Console& console);

// A docker build context outside the cube (`build_context: ../project`) is
// synced as a second tree, so the agent can build from it without reading
// anything else on the host. Only when a build may happen: a runtime that
// builds docker images and a build_strategy other than `pull`. What moves:
// the context minus its .dockerignore and .mlcubeignore, the hosts file's
// `exclude`, the cube's workspace and every image.
struct BuildContextPushRequest {
  const Cube* cube = nullptr;
  bool docker_build = true;  // false for Singularity (it never builds it)
  std::vector<std::string> exclude;
  bool dry_run = false;
  std::optional<std::string> sync_features;  // as CubePushRequest's
};

// The id to put in SubmitJobRequest.build_context_id; "" when nothing needs
// pushing. A context that is not readable here is an error for
// `build_strategy: always` (the build cannot happen) and a warning for
// `auto` (the host may have the image; without it the agent pulls).
absl::StatusOr<std::string> PushBuildContext(std::shared_ptr<grpc::Channel> channel,
                                             const BuildContextPushRequest& request,
                                             const Console& console);

// Inputs of `tasks` outside the workspace and the cube but inside its
// repository (`../../configs/x.yaml`, see RepositoryInputDirs): each
// directory they need is synced as a tree of its own, as an outside build
// context is (its ignore files, the hosts file's `exclude`, never the
// workspace or an image). Returns SubmitJobRequest.input_trees; an input
// that leaves the repository is INVALID_ARGUMENT naming the parameter.
struct InputTreesPushRequest {
  const Cube* cube = nullptr;
  std::vector<std::string> tasks;
  std::vector<std::string> exclude;
  bool dry_run = false;
  std::optional<std::string> sync_features;  // as CubePushRequest's
};
absl::StatusOr<std::map<std::string, std::string>> PushInputTrees(
    std::shared_ptr<grpc::Channel> channel, const InputTreesPushRequest& request,
    const Console& console);

// The tree id a build context directory is synced under.
std::string BuildContextId(const std::string& context_dir);

// The tree id of the cube's docker build context when that lies outside the
// cube (and so may have been pushed as a tree of its own), else "".
std::string OutsideBuildContextId(const Cube& cube);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_REMOTE_CUBE_PUSH_H_
