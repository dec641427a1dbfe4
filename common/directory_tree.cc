#include "common/directory_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/safe_path.h"
#include "common/unique_fd.h"

namespace mlcube {

namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

using Next = TreeWalker::Next;

absl::Status RemoveError(const std::string& shown, int err) {
  return absl::InternalError(
      absl::StrCat("removing ", PrintableExcerpt(shown), ": ", strerror(err)));
}

// Empties the directory `dir_fd` (shown as `shown`), unless `stop` is
// notified first.
absl::Status EmptyDirectory(int dir_fd, const std::string& shown, const absl::Notification* stop) {
  TreeLimits limits;
  limits.max_depth = kMaxRemovableDepth;
  limits.max_entries = INT64_MAX;
  TreeWalker walker(limits);
  auto visit = [&](const TreeWalker::Entry& e) -> absl::StatusOr<Next> {
    if (stop != nullptr && stop->HasBeenNotified()) {
      return absl::CancelledError(absl::StrCat("removing ", PrintableExcerpt(shown), ": stopped"));
    }
    if (!S_ISDIR(e.st.st_mode)) {
      if (unlinkat(e.dir_fd, e.name.c_str(), 0) == 0 || errno == ENOENT) return Next::kSkip;
      return RemoveError(absl::StrCat(shown, "/", e.rel), errno);
    }
    // An empty directory goes at once; a full one is entered.
    if (unlinkat(e.dir_fd, e.name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) {
      return Next::kSkip;
    }
    return Next::kDescend;
  };
  auto leave = [&](int parent_fd, const std::string& name, const std::string& rel) {
    if (unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) {
      return absl::OkStatus();
    }
    return RemoveError(absl::StrCat(shown, "/", rel), errno);
  };
  return walker.Walk(dir_fd, PrintableExcerpt(shown), visit, leave);
}

}  // namespace

int64_t RemoveNamedBelow(const std::string& path, const std::string& prefix,
                         const std::string& suffix) {
  UniqueFd fd(open(path.c_str(), kDirFlags));
  if (!fd) return 0;
  int64_t removed = 0;
  TreeWalker walker{TreeLimits()};
  walker
      .Walk(fd.get(), path,
            [&](const TreeWalker::Entry& e) -> absl::StatusOr<Next> {
              if (S_ISDIR(e.st.st_mode)) return Next::kDescend;
              if (absl::StartsWith(e.name, prefix) && absl::EndsWith(e.name, suffix) &&
                  unlinkat(e.dir_fd, e.name.c_str(), 0) == 0) {
                ++removed;
              }
              return Next::kSkip;
            })
      .IgnoreError();
  return removed;
}

absl::StatusOr<int64_t> TreeBytes(const std::string& path, TreeLimits limits) {
  UniqueFd fd(open(path.c_str(), kDirFlags));
  if (!fd) return 0;
  int64_t total = 0;
  TreeWalker walker(limits);
  absl::Status s = walker.Walk(fd.get(), PrintableExcerpt(path),
                               [&](const TreeWalker::Entry& e) -> absl::StatusOr<Next> {
                                 if (S_ISREG(e.st.st_mode)) total += e.st.st_size;
                                 return Next::kDescend;
                               });
  if (!s.ok()) return s;
  return total;
}

absl::Status RemoveTreeAt(int dir_fd, const std::string& name, const absl::Notification* stop) {
  UniqueFd fd(openat(dir_fd, name.c_str(), kDirFlags));
  if (!fd) {
    if (errno == ENOENT) return absl::OkStatus();
    if ((errno == ENOTDIR || errno == ELOOP) && unlinkat(dir_fd, name.c_str(), 0) == 0) {
      return absl::OkStatus();
    }
    return RemoveError(name, errno);
  }
  if (absl::Status s = EmptyDirectory(fd.get(), name, stop); !s.ok()) return s;
  if (unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return RemoveError(name, errno);
  }
  return absl::OkStatus();
}

absl::Status RemoveTree(const std::string& path, const absl::Notification* stop) {
  return RemoveTreeAt(AT_FDCWD, path, stop);
}

}  // namespace mlcube
