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

}  // namespace

absl::Status TreeWalker::Walk(int root_fd, const std::string& what, const Visitor& visit,
                              const Leaver& leave) {
  // A new open file description: listing it must not move the caller's
  // directory offset, nor depend on it.
  UniqueFd cur(openat(root_fd, ".", kDirFlags));
  struct stat st;
  if (!cur || fstat(cur.get(), &st) != 0) return ErrnoStatus(errno, what, "");
  std::vector<Frame> stack;
  stack.push_back(Frame{st.st_dev, st.st_ino, "", 0, {}});
  std::string rel;

  // Visits the entries of `cur` (the top of the stack), queueing the
  // directories to enter.
  auto list = [&]() -> absl::Status {
    const int64_t depth = static_cast<int64_t>(stack.size());
    DIR* dir = fdopendir(openat(cur.get(), ".", kDirFlags));
    if (dir == nullptr) return ErrnoStatus(errno, what, rel);
    absl::Status status;
    while (dirent* e = readdir(dir)) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      if (++entries_ > limits_.max_entries) {
        status = absl::FailedPreconditionError(
            absl::StrCat(what, " has more than ", limits_.max_entries, " entries"));
        break;
      }
      const std::string name(e->d_name);
      struct stat entry_stat;
      if (fstatat(cur.get(), name.c_str(), &entry_stat, AT_SYMLINK_NOFOLLOW) != 0) continue;
      const std::string child_rel = ChildRel(rel, name);
      absl::StatusOr<Next> next = visit(Entry{cur.get(), name, child_rel, entry_stat, depth});
      if (!next.ok()) {
        status = next.status();
        break;
      }
      if (*next != Next::kDescend || !S_ISDIR(entry_stat.st_mode)) continue;
      if (depth >= limits_.max_depth) {
        status = absl::FailedPreconditionError(
            absl::StrCat(what, " is deeper than ", limits_.max_depth, " levels"));
        break;
      }
      stack.back().pending.push_back(name);
    }
    closedir(dir);
    return status;
  };

  if (absl::Status s = list(); !s.ok()) return s;
  while (true) {
    Frame& top = stack.back();
    if (!top.pending.empty()) {
      std::string name = std::move(top.pending.back());
      top.pending.pop_back();
      UniqueFd child(openat(cur.get(), name.c_str(), kDirFlags));
      if (!child) {
        // Gone or replaced by a non-directory since it was listed.
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) continue;
        return ErrnoStatus(errno, what, ChildRel(rel, name));
      }
      if (fstat(child.get(), &st) != 0) return ErrnoStatus(errno, what, ChildRel(rel, name));
      const size_t parent_rel_size = rel.size();
      rel = ChildRel(rel, name);
      stack.push_back(Frame{st.st_dev, st.st_ino, std::move(name), parent_rel_size, {}});
      cur = std::move(child);
      if (absl::Status s = list(); !s.ok()) return s;
      continue;
    }
    if (stack.size() == 1) return absl::OkStatus();
    UniqueFd parent(openat(cur.get(), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    const Frame& up = stack[stack.size() - 2];
    if (!parent || fstat(parent.get(), &st) != 0 || st.st_dev != up.dev || st.st_ino != up.ino) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": '", rel, "' was moved during the walk"));
    }
    const std::string name = std::move(top.name);
    const size_t parent_rel_size = top.parent_rel_size;
    stack.pop_back();
    cur = std::move(parent);
    if (leave) {
      if (absl::Status s = leave(cur.get(), name, rel); !s.ok()) return s;
    }
    rel.resize(parent_rel_size);
  }
}

}  // namespace mlcube
