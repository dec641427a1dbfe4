#ifndef MLCUBE_REMOTE_COMMON_DIRECTORY_TREE_H_
#define MLCUBE_REMOTE_COMMON_DIRECTORY_TREE_H_

// Whole-tree operations on the agent's own directories. Neither follows a
// symlink: a link a task planted in its workspace is measured or removed as
// a link, never as what it points to.

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace mlcube {

// Apparent size of the regular files below `path`; 0 when it does not exist.
int64_t TreeBytes(const std::string& path);

// Removes `path` and everything below it (OK when it does not exist).
absl::Status RemoveTree(const std::string& path);

// Unlinks every file or link below `path` whose name starts with `prefix`
// and ends with `suffix` (temp files a crash left behind, a finished job's
// env files); returns how many.
int64_t RemoveNamedBelow(const std::string& path, const std::string& prefix,
                         const std::string& suffix = "");

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_DIRECTORY_TREE_H_
