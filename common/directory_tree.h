#ifndef MLCUBE_REMOTE_COMMON_DIRECTORY_TREE_H_
#define MLCUBE_REMOTE_COMMON_DIRECTORY_TREE_H_

// Whole-tree operations on the agent's own directories, which hold trees a
// task made. None follows a symlink (a link a task planted is measured or
// removed as a link, never as what it points to) and none recurses: they
// walk with TreeWalker, so a hostile tree ends in an error naming the limit,
// never in a stack overflow.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "common/tree_walker.h"

namespace mlcube {

// Depth up to which RemoveTree removes a tree (memory grows with depth by
// about a hundred bytes a level); a deeper tree is left with an error.
inline constexpr int64_t kMaxRemovableDepth = 250'000;

// Apparent size of the regular files below `path`; 0 when it does not
// exist; FAILED_PRECONDITION when the tree passes `limits`.
absl::StatusOr<int64_t> TreeBytes(const std::string& path, TreeLimits limits = TreeLimits());

// Removes `path` and everything below it (OK when it does not exist). Once
// `stop` (if given) is notified it stops between entries: CANCELLED, and
// what is left stays.
absl::Status RemoveTree(const std::string& path, const absl::Notification* stop = nullptr);

// Removes the entry `name` of the directory `dir_fd`, a tree or not.
absl::Status RemoveTreeAt(int dir_fd, const std::string& name,
                          const absl::Notification* stop = nullptr);

// Unlinks every file or link below `path` whose name starts with `prefix`
// and ends with `suffix` (temp files a crash left behind, a finished job's
// env files); returns how many (what it found before a limit stopped it).
int64_t RemoveNamedBelow(const std::string& path, const std::string& prefix,
                         const std::string& suffix = "");

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_DIRECTORY_TREE_H_
