#ifndef MLCUBE_REMOTE_COMMON_BENEATH_DIR_H_
#define MLCUBE_REMOTE_COMMON_BENEATH_DIR_H_

// Opens and creates directories below a root directory without following
// any symlink below it, so that a link a task planted in its workspace
// (`out/evil -> /elsewhere`) can never make the agent create or open
// something outside. Uses openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
// where the kernel has it (Linux 5.6+) and otherwise walks the path one
// component at a time with openat(O_NOFOLLOW); every directory it makes is
// made with mkdirat relative to its parent's fd.
//
// What it does not do: the fd it returns names the directory at the time of
// the call. A process that can rename entries under the root can still swap
// a directory for a link afterwards; a later path-based use (a container
// runtime mounting a host path by name) sees the swap.

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"

namespace mlcube {

// openat2(2) of `path` relative to `dirfd` with `flags` (O_CLOEXEC added)
// and `resolve` (RESOLVE_* bits): the fd, or -1 with errno; ENOSYS where the
// kernel (before 5.6) or a seccomp profile does not offer openat2.
int OpenAt2(int dirfd, const std::string& path, int flags, uint64_t resolve);

class BeneathDir {
 public:
  // Opens `root` (a directory the agent made; it is followed if a link).
  static absl::StatusOr<BeneathDir> Open(const std::string& root);

  // The directory `rel` below the root ("" is the root itself): made
  // (mode `mode`, missing parents too) when `create`. `rel` is relative,
  // without "." or ".." components. FAILED_PRECONDITION, naming the
  // component, when one is a symlink or not a directory; NOT_FOUND when it
  // is missing and not `create`.
  absl::StatusOr<UniqueFd> OpenDir(absl::string_view rel, bool create, mode_t mode = 0755) const;

  // The regular file `rel` below the root, opened read-only: its directory
  // with OpenDir (no symlink anywhere), the file itself with O_NOFOLLOW and
  // O_NONBLOCK (a FIFO a task planted never blocks the caller), then
  // fstat'ed. FAILED_PRECONDITION, naming `rel`, for a symlink, anything
  // but a regular file, or a file with more than one hard link (it may be
  // another file's bytes a task linked in); NOT_FOUND when missing.
  absl::StatusOr<UniqueFd> OpenRegularFile(absl::string_view rel) const;

  // The directory holding `rel` (OpenDir of its parent, made when
  // `create`) and `rel`'s last component, for *at calls on the name that
  // never follow a link anywhere in the path. Same errors as OpenDir.
  struct Parent {
    UniqueFd dir;
    std::string name;
  };
  absl::StatusOr<Parent> OpenParent(absl::string_view rel, bool create, mode_t mode = 0755) const;

  // Like OpenDir for an absolute path that must lie (lexically) below the
  // root; INVALID_ARGUMENT when it does not.
  absl::StatusOr<UniqueFd> OpenDirPath(const std::string& path, bool create,
                                       mode_t mode = 0755) const;

  const std::string& root() const { return root_path_; }
  int fd() const { return root_.get(); }

 private:
  BeneathDir(UniqueFd root, std::string root_path)
      : root_(std::move(root)), root_path_(std::move(root_path)) {}

  absl::StatusOr<UniqueFd> WalkComponents(absl::string_view rel, bool create, mode_t mode) const;

  UniqueFd root_;
  std::string root_path_;
};

// The regular file `name` in the directory `dir_fd`, opened read-only with
// O_NOFOLLOW and O_NONBLOCK (a FIFO never blocks the caller) and fstat'ed
// into `st` when not null. NOT_FOUND when missing; FAILED_PRECONDITION,
// naming `shown`, for a symlink or anything but a regular file. Hard links
// are not checked (OpenRegularFile does).
absl::StatusOr<UniqueFd> OpenRegularAt(int dir_fd, const std::string& name, absl::string_view shown,
                                       struct stat* st = nullptr);

// Creates the file `name` in `dir_fd` for writing, with O_CREAT | O_EXCL |
// O_NOFOLLOW and `mode`: whatever lies at the name (a leftover file, a
// planted link or FIFO) is never opened. A non-directory already there is
// unlinked first (the name is the caller's own temp name); a directory
// there is an error naming `shown`.
absl::StatusOr<UniqueFd> CreateFileAt(int dir_fd, const std::string& name, absl::string_view shown,
                                      mode_t mode = 0600);

// Makes `name` in `dir_fd` a symlink to `target`, atomically replacing a
// non-directory there: symlinkat to `temp_name`, then renameat in the same
// directory. The link is created, never followed.
absl::Status ReplaceWithSymlinkAt(int dir_fd, const std::string& name, const std::string& target,
                                  const std::string& temp_name, absl::string_view shown);

// Makes each of `paths` (absolute, each below `root`) with BeneathDir: the
// directories a task's parameters need before it runs; new ones get `mode`.
absl::Status MakeDirsBeneath(const std::string& root, const std::vector<std::string>& paths,
                             mode_t mode = 0755);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_BENEATH_DIR_H_
