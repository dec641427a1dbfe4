#include "common/beneath_dir.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/safe_path.h"

namespace mlcube {

int OpenAt2(int dirfd, const std::string& path, int flags, uint64_t resolve) {
#ifdef SYS_openat2
  struct open_how how;
  memset(&how, 0, sizeof(how));
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = resolve;
  int fd = static_cast<int>(syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof(how)));
  if (fd < 0 && errno == EPERM) errno = ENOSYS;  // an old seccomp profile
  return fd;
#else
  (void)dirfd;
  (void)path;
  (void)flags;
  (void)resolve;
  errno = ENOSYS;
  return -1;
#endif
}

namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

}  // namespace

absl::StatusOr<BeneathDir> BeneathDir::Open(const std::string& root) {
  UniqueFd fd(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    return absl::NotFoundError(
        absl::StrCat("opening ", PrintableExcerpt(root), ": ", strerror(errno)));
  }
  return BeneathDir(std::move(fd), root);
}

absl::StatusOr<UniqueFd> BeneathDir::OpenDir(absl::string_view rel, bool create,
                                             mode_t mode) const {
  if (rel.empty()) return UniqueFd(openat(root_.get(), ".", kDirFlags));
  if (absl::Status s = ValidateRelativePath(rel); !s.ok()) return s;
  // The fast path: one call when the whole path already exists.
  UniqueFd fd(OpenAt2(root_.get(), std::string(rel), O_RDONLY | O_DIRECTORY,
                      RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS));
  if (fd) return fd;
  // Missing parts to make, no openat2, or a refusal to explain by name.
  return WalkComponents(rel, create, mode);
}

absl::StatusOr<UniqueFd> BeneathDir::WalkComponents(absl::string_view rel, bool create,
                                                    mode_t mode) const {
  UniqueFd cur(openat(root_.get(), ".", kDirFlags));
  if (!cur) return absl::InternalError(absl::StrCat("opening ", root_path_, ": ", strerror(errno)));
  std::string walked;
  for (absl::string_view part : absl::StrSplit(rel, '/')) {
    const std::string name(part);
    walked = walked.empty() ? name : absl::StrCat(walked, "/", name);
    UniqueFd next(openat(cur.get(), name.c_str(), kDirFlags));
    if (!next && errno == ENOENT && create) {
      if (mkdirat(cur.get(), name.c_str(), mode) != 0 && errno != EEXIST) {
        return WriteErrorStatus(
            errno, absl::StrCat("creating ", PrintableExcerpt(walked), " in ", root_path_));
      }
      next.Reset(openat(cur.get(), name.c_str(), kDirFlags));
    }
    if (!next) {
      const int err = errno;
      if (err == ELOOP || err == ENOTDIR) {
        // O_DIRECTORY | O_NOFOLLOW on a link says ENOTDIR: look again.
        struct stat st;
        const bool link =
            fstatat(cur.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
        return absl::FailedPreconditionError(absl::StrCat(
            "'", PrintableExcerpt(walked), "' in ", root_path_, " is ",
            link ? "a symbolic link; refusing to follow it (a task may have planted it)"
                 : "not a directory"));
      }
      if (err == ENOENT) {
        return absl::NotFoundError(
            absl::StrCat("'", PrintableExcerpt(walked), "' in ", root_path_, " does not exist"));
      }
      return absl::InternalError(absl::StrCat("opening '", PrintableExcerpt(walked), "' in ",
                                              root_path_, ": ", strerror(err)));
    }
    cur = std::move(next);
  }
  return cur;
}

absl::StatusOr<BeneathDir::Parent> BeneathDir::OpenParent(absl::string_view rel, bool create,
                                                          mode_t mode) const {
  if (absl::Status s = ValidateRelativePath(rel); !s.ok()) return s;
  const size_t slash = rel.rfind('/');
  const absl::string_view parent = slash == absl::string_view::npos ? "" : rel.substr(0, slash);
  absl::StatusOr<UniqueFd> dir = OpenDir(parent, create, mode);
  if (!dir.ok()) return dir.status();
  return Parent{*std::move(dir),
                std::string(slash == absl::string_view::npos ? rel : rel.substr(slash + 1))};
}

absl::StatusOr<UniqueFd> BeneathDir::OpenRegularFile(absl::string_view rel) const {
  absl::StatusOr<Parent> parent = OpenParent(rel, /*create=*/false);
  if (!parent.ok()) return parent.status();
  const std::string shown = absl::StrCat("'", PrintableExcerpt(rel), "' in ", root_path_);
  struct stat st;
  absl::StatusOr<UniqueFd> fd = OpenRegularAt(parent->dir.get(), parent->name, shown, &st);
  if (!fd.ok()) return fd.status();
  if (st.st_nlink > 1) {
    return absl::FailedPreconditionError(
        absl::StrCat(shown, " has ", st.st_nlink, " hard links; refusing to read it"));
  }
  return fd;
}

absl::StatusOr<UniqueFd> OpenRegularAt(int dir_fd, const std::string& name, absl::string_view shown,
                                       struct stat* st) {
  UniqueFd fd(
      openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat(shown, " does not exist"));
    if (err == ELOOP) {
      return absl::FailedPreconditionError(
          absl::StrCat(shown, " is a symbolic link; refusing to follow it"));
    }
    return absl::FailedPreconditionError(absl::StrCat("opening ", shown, ": ", strerror(err)));
  }
  struct stat own;
  if (st == nullptr) st = &own;
  if (fstat(fd.get(), st) != 0) {
    return absl::InternalError(absl::StrCat("stat ", shown, ": ", strerror(errno)));
  }
  if (!S_ISREG(st->st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(shown, " is not a regular file"));
  }
  return fd;
}

absl::StatusOr<UniqueFd> CreateFileAt(int dir_fd, const std::string& name, absl::string_view shown,
                                      mode_t mode) {
  constexpr int kFlags = O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC;
  UniqueFd fd(openat(dir_fd, name.c_str(), kFlags, mode));
  if (!fd && errno == EEXIST && unlinkat(dir_fd, name.c_str(), 0) == 0) {
    fd.Reset(openat(dir_fd, name.c_str(), kFlags, mode));
  }
  if (!fd) return WriteErrorStatus(errno, absl::StrCat("creating ", shown));
  return fd;
}

absl::Status ReplaceWithSymlinkAt(int dir_fd, const std::string& name, const std::string& target,
                                  const std::string& temp_name, absl::string_view shown) {
  unlinkat(dir_fd, temp_name.c_str(), 0);
  if (symlinkat(target.c_str(), dir_fd, temp_name.c_str()) != 0) {
    return WriteErrorStatus(errno, absl::StrCat("creating the symbolic link ", shown));
  }
  if (renameat(dir_fd, temp_name.c_str(), dir_fd, name.c_str()) != 0) {
    const int err = errno;
    unlinkat(dir_fd, temp_name.c_str(), 0);
    return WriteErrorStatus(err, absl::StrCat("placing the symbolic link ", shown));
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> BeneathDir::OpenDirPath(const std::string& path, bool create,
                                                 mode_t mode) const {
  const std::string norm = NormalizePath(path);
  const std::string root = NormalizePath(root_path_);
  if (norm == root) return OpenDir("", create, mode);
  if (!IsWithin(norm, root)) {
    return absl::InvalidArgumentError(
        absl::StrCat(PrintableExcerpt(path), " is not below ", root_path_));
  }
  const size_t skip = root == "/" ? 1 : root.size() + 1;
  return OpenDir(absl::string_view(norm).substr(skip), create, mode);
}

absl::Status MakeDirsBeneath(const std::string& root, const std::vector<std::string>& paths,
                             mode_t mode) {
  if (absl::Status made = MakeDirs(root, mode); !made.ok()) return made;
  absl::StatusOr<BeneathDir> dir = BeneathDir::Open(root);
  if (!dir.ok()) return dir.status();
  for (const std::string& path : paths) {
    absl::StatusOr<UniqueFd> fd = dir->OpenDirPath(path, /*create=*/true, mode);
    if (!fd.ok()) return fd.status();
  }
  return absl::OkStatus();
}

}  // namespace mlcube
