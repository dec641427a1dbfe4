#ifndef MLCUBE_REMOTE_CONTROLLER_REMOTE_CUBE_PUSH_H_
#define MLCUBE_REMOTE_CONTROLLER_REMOTE_CUBE_PUSH_H_

// Pushing a loaded cube to an agent, the same way for `sync push`, `run` and
// `configure`: the cube's .mlcubeignore, the hosts file's `exclude` list and
// the built-in image rules decide what moves, and container images (the
// Singularity image dir, WORKSPACE/.image, *.sif, *.simg) never do.

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
};

// Pushes and reports warnings through `console`; progress is shown unless
// the console is quiet, as a redrawn bar on a terminal.
absl::StatusOr<PushStats> PushCube(SyncClient& client, const CubePushRequest& request,
                                   const Console& console);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_REMOTE_CUBE_PUSH_H_
