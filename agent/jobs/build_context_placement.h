#ifndef MLCUBE_REMOTE_AGENT_JOBS_BUILD_CONTEXT_PLACEMENT_H_
#define MLCUBE_REMOTE_AGENT_JOBS_BUILD_CONTEXT_PLACEMENT_H_

// Where a job's image build reads from on the agent. Real cubes often keep
// their Dockerfile outside the cube (`docker.build_context: ../project`); the
// controller then syncs that directory as a second tree. The agent only
// ever reads the cube's synced tree and that one:
//  - a context inside the cube stays as it is;
//  - the docker build context outside the cube becomes `synced_context_dir`
//    (the second tree; the singularity context too when it is the same);
//  - any other context outside the cube (or one nobody synced) becomes a
//    directory inside the cube that does not exist, so there is no recipe
//    and the runtime pulls the image, as MLCube does without a recipe.
// A build file that leaves its context (`build_file: ../../x`) is refused.

#include <string>

#include "absl/status/status.h"
#include "common/cube.h"

namespace mlcube {

// The stand-in for a context that was not synced (relative to the cube).
inline constexpr char kUnsyncedBuildContext[] = ".build-context-not-pushed";

// `cube_root` is the cube's synced tree; `synced_context_dir` may be empty.
absl::Status PlaceBuildContexts(const std::string& cube_root, const std::string& synced_context_dir,
                                Cube* cube);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_JOBS_BUILD_CONTEXT_PLACEMENT_H_
