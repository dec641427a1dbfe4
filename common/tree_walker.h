#ifndef MLCUBE_REMOTE_COMMON_TREE_WALKER_H_
#define MLCUBE_REMOTE_COMMON_TREE_WALKER_H_

// Walks a directory tree that a task may have made: no recursion (a tree
// 100,000 levels deep costs memory in proportion, never the stack), one
// directory fd open at a time (going up is `openat(fd, "..")`, checked
// against the device and inode seen on the way down, so a directory renamed
// during the walk stops it with an error instead of leading it elsewhere),
// symlinks never followed, and a depth and an entry limit with an error that
// names them.

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mlcube {

struct TreeLimits {
  // Levels below the walk's root (its children are at depth 1).
  int64_t max_depth = 100'000;
  // Entries visited, directories included.
  int64_t max_entries = 20'000'000;
};

class TreeWalker {
 public:
  struct Entry {
    int dir_fd;  // the directory that holds it
    const std::string& name;
    const std::string& rel;  // '/'-joined path from the walk's root
    const struct stat& st;   // lstat of it
    int64_t depth;           // 1 for the root's children
  };
  // Whether to enter an entry that is a directory (ignored for others).
  enum class Next { kSkip, kDescend };
  using Visitor = std::function<absl::StatusOr<Next>(const Entry&)>;
  // Called once a descended directory's entries have all been visited, with
  // the fd of its parent (for removing it).
  using Leaver =
      std::function<absl::Status(int parent_fd, const std::string& name, const std::string& rel)>;

  explicit TreeWalker(TreeLimits limits) : limits_(limits) {}

  // Visits every entry below the directory `root_fd` (not taken over; the
  // walk works on a duplicate) in pre-order. A directory's entries are
  // listed once, when it is entered. Stops at the first error a callback
  // returns, or FAILED_PRECONDITION when a limit is passed ("... deeper than
  // N levels" / "... more than N entries", naming `what`) or the tree
  // changed under the walk.
  absl::Status Walk(int root_fd, const std::string& what, const Visitor& visit,
                    const Leaver& leave = nullptr);

  int64_t entries_visited() const { return entries_; }

 private:
  TreeLimits limits_;
  int64_t entries_ = 0;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_TREE_WALKER_H_
