#ifndef MLCUBE_REMOTE_COMMON_REPOSITORY_INPUTS_H_
#define MLCUBE_REMOTE_COMMON_REPOSITORY_INPUTS_H_

// Inputs a cube writes relative to its workspace that lie outside the
// cube's own directory but inside its repository
// (`default: ../../configs/default_config.yaml`): MLCube mounts them from
// the caller's checkout. The controller syncs each directory they need as
// a tree of its own (like an outside build context); the agent mounts its
// copy. A relative input that leaves the repository (the git work tree
// holding the cube, else the cube's parent directory) is refused. Inputs
// written as host paths (absolute, `~/...`) are not repository inputs.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/cube.h"

namespace mlcube {

// The nearest directory at or above `cube_root` that holds `.git` (a
// directory or a worktree's file), else the parent of `cube_root`.
std::string RepositoryRoot(const std::string& cube_root);

// `path` relative to `dir`, both absolute and normalised: "../configs",
// "" when equal.
std::string RelativeTo(const std::string& path, const std::string& dir);

// Controller: the directories the inputs of `tasks` need from the
// repository outside the cube (a file input: its directory), keyed by
// their path relative to the cube's root ("../configs" ->
// "/home/me/repo/configs"). INVALID_ARGUMENT naming the parameter and the
// repository for an input that leaves it.
absl::StatusOr<std::map<std::string, std::string>> RepositoryInputDirs(
    const Cube& cube, const std::vector<std::string>& tasks);

// Agent: moves every repository input of `cube` (loaded from its synced
// tree) into the tree synced for it: `trees` maps the keys of
// RepositoryInputDirs to the agent's copies. Lists the copies used, and
// the cube's own root, in Cube::input_trees (where such inputs may be
// mounted). An input no tree holds keeps its path (the planner refuses
// it).
void PlaceRepositoryInputs(const std::map<std::string, std::string>& trees, Cube* cube);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_REPOSITORY_INPUTS_H_
