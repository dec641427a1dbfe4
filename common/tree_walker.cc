#include "common/tree_walker.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/unique_fd.h"

namespace mlcube {

namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

// One directory on the way down from the root.
struct Frame {
  dev_t dev;
  ino_t ino;
  std::string name;                  // its name in its parent ("" for the root)
  size_t parent_rel_size;            // length of the path before its name
  std::vector<std::string> pending;  // subdirectories still to enter
};

std::string ChildRel(const std::string& rel, const std::string& name) {
  return rel.empty() ? name : absl::StrCat(rel, "/", name);
}

absl::Status ErrnoStatus(int err, const std::string& what, const std::string& rel) {
  const std::string path = absl::StrCat(what, rel.empty() ? "" : "/", rel);
  if (err == EACCES || err == EPERM) {
    // Another user's entry (a task's) whose owner took the agent's access away.
    return absl::PermissionDeniedError(absl::StrCat(path, " is not readable by the agent (",
                                                    strerror(err),
                                                    "; its owner changed its "
                                                    "permissions)"));
  }
  return absl::InternalError(absl::StrCat(path, ": ", strerror(err)));
}

// One walk: the directory it is in (`cur`), the way down to it and its
// path from the root. Enter and Leave move it one level.
class TreeWalk {
 public:
  TreeWalk(const std::string& what, const TreeLimits& limits, int64_t* entries,
           const TreeWalker::Visitor& visit, const TreeWalker::Leaver& leave)
      : what_(what), limits_(limits), entries_(entries), visit_(visit), leave_(leave) {}

  absl::Status Run(int root_fd) {
    // A new open file description: listing it must not move the caller's
    // directory offset, nor depend on it.
    cur_ = UniqueFd(openat(root_fd, ".", kDirFlags));
    struct stat st;
    if (!cur_ || fstat(cur_.get(), &st) != 0) return ErrnoStatus(errno, what_, "");
    stack_.push_back(Frame{st.st_dev, st.st_ino, "", 0, {}});
    if (absl::Status s = List(); !s.ok()) return s;
    while (true) {
      Frame& top = stack_.back();
      if (!top.pending.empty()) {
        std::string name = std::move(top.pending.back());
        top.pending.pop_back();
        if (absl::Status s = Enter(std::move(name)); !s.ok()) return s;
        continue;
      }
      if (stack_.size() == 1) return absl::OkStatus();
      if (absl::Status s = Leave(); !s.ok()) return s;
    }
  }

 private:
  // Visits the entries of the current directory, queueing the directories
  // to enter.
  absl::Status List() {
    const int64_t depth = static_cast<int64_t>(stack_.size());
    DIR* dir = fdopendir(openat(cur_.get(), ".", kDirFlags));
    if (dir == nullptr) return ErrnoStatus(errno, what_, rel_);
    absl::Status status;
    while (dirent* e = readdir(dir)) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      if (++*entries_ > limits_.max_entries) {
        status = absl::FailedPreconditionError(
            absl::StrCat(what_, " has more than ", limits_.max_entries, " entries"));
        break;
      }
      const std::string name(e->d_name);
      struct stat entry_stat;
      if (fstatat(cur_.get(), name.c_str(), &entry_stat, AT_SYMLINK_NOFOLLOW) != 0) continue;
      const std::string child_rel = ChildRel(rel_, name);
      absl::StatusOr<TreeWalker::Next> next =
          visit_(TreeWalker::Entry{cur_.get(), name, child_rel, entry_stat, depth});
      if (!next.ok()) {
        status = next.status();
        break;
      }
      if (*next != TreeWalker::Next::kDescend || !S_ISDIR(entry_stat.st_mode)) continue;
      if (depth >= limits_.max_depth) {
        status = absl::FailedPreconditionError(
            absl::StrCat(what_, " is deeper than ", limits_.max_depth, " levels"));
        break;
      }
      stack_.back().pending.push_back(name);
    }
    closedir(dir);
    return status;
  }

  // Moves into the subdirectory `name` and lists it; one gone or replaced by
  // a non-directory since it was listed is skipped.
  absl::Status Enter(std::string name) {
    UniqueFd child(openat(cur_.get(), name.c_str(), kDirFlags));
    if (!child) {
      if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return absl::OkStatus();
      return ErrnoStatus(errno, what_, ChildRel(rel_, name));
    }
    struct stat st;
    if (fstat(child.get(), &st) != 0) return ErrnoStatus(errno, what_, ChildRel(rel_, name));
    const size_t parent_rel_size = rel_.size();
    rel_ = ChildRel(rel_, name);
    stack_.push_back(Frame{st.st_dev, st.st_ino, std::move(name), parent_rel_size, {}});
    cur_ = std::move(child);
    return List();
  }

  // Moves up to the parent, which must still be the directory seen on the
  // way down, and tells the leaver.
  absl::Status Leave() {
    UniqueFd parent(openat(cur_.get(), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    const Frame& up = stack_[stack_.size() - 2];
    struct stat st;
    if (!parent || fstat(parent.get(), &st) != 0 || st.st_dev != up.dev || st.st_ino != up.ino) {
      return absl::FailedPreconditionError(
          absl::StrCat(what_, ": '", rel_, "' was moved during the walk"));
    }
    const std::string name = std::move(stack_.back().name);
    const size_t parent_rel_size = stack_.back().parent_rel_size;
    stack_.pop_back();
    cur_ = std::move(parent);
    if (leave_) {
      if (absl::Status s = leave_(cur_.get(), name, rel_); !s.ok()) return s;
    }
    rel_.resize(parent_rel_size);
    return absl::OkStatus();
  }

  const std::string& what_;
  const TreeLimits& limits_;
  int64_t* entries_;
  const TreeWalker::Visitor& visit_;
  const TreeWalker::Leaver& leave_;
  UniqueFd cur_;
  std::vector<Frame> stack_;
  std::string rel_;
};

}  // namespace

absl::Status TreeWalker::Walk(int root_fd, const std::string& what, const Visitor& visit,
                              const Leaver& leave) {
  return TreeWalk(what, limits_, &entries_, visit, leave).Run(root_fd);
}

}  // namespace mlcube
