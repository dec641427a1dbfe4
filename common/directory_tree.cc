#include "common/directory_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace mlcube {

namespace {

bool IsDotOrDotDot(const char* name) { return strcmp(name, ".") == 0 || strcmp(name, "..") == 0; }

// Takes ownership of `dir_fd`.
int64_t TreeBytesAt(int dir_fd) {
  DIR* dir = fdopendir(dir_fd);
  if (dir == nullptr) {
    close(dir_fd);
    return 0;
  }
  int64_t total = 0;
  while (dirent* e = readdir(dir)) {
    if (IsDotOrDotDot(e->d_name)) continue;
    struct stat st;
    if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISREG(st.st_mode)) {
      total += st.st_size;
    } else if (S_ISDIR(st.st_mode)) {
      int child = openat(dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child >= 0) total += TreeBytesAt(child);
    }
  }
  closedir(dir);
  return total;
}

// Empties the directory `dir_fd` (taking ownership of it).
absl::Status EmptyDirectory(int dir_fd, const std::string& shown) {
  DIR* dir = fdopendir(dir_fd);
  if (dir == nullptr) {
    close(dir_fd);
    return absl::InternalError(absl::StrCat("opening ", shown, ": ", strerror(errno)));
  }
  absl::Status status;
  while (dirent* e = readdir(dir)) {
    if (IsDotOrDotDot(e->d_name)) continue;
    if (unlinkat(dirfd(dir), e->d_name, 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR && errno != EPERM) {
      status = absl::InternalError(
          absl::StrCat("removing ", shown, "/", e->d_name, ": ", strerror(errno)));
      break;
    }
    int child = openat(dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child < 0) {
      status = absl::InternalError(absl::StrCat("opening ", shown, "/", e->d_name));
      break;
    }
    status = EmptyDirectory(child, absl::StrCat(shown, "/", e->d_name));
    if (status.ok() && unlinkat(dirfd(dir), e->d_name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
      status = absl::InternalError(
          absl::StrCat("removing ", shown, "/", e->d_name, ": ", strerror(errno)));
    }
    if (!status.ok()) break;
  }
  closedir(dir);
  return status;
}

// Takes ownership of `dir_fd`.
int64_t RemoveNamedAt(int dir_fd, const std::string& prefix, const std::string& suffix) {
  DIR* dir = fdopendir(dir_fd);
  if (dir == nullptr) {
    close(dir_fd);
    return 0;
  }
  int64_t removed = 0;
  while (dirent* e = readdir(dir)) {
    if (IsDotOrDotDot(e->d_name)) continue;
    struct stat st;
    if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      int child = openat(dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child >= 0) removed += RemoveNamedAt(child, prefix, suffix);
    } else if (absl::StartsWith(e->d_name, prefix) && absl::EndsWith(e->d_name, suffix) &&
               unlinkat(dirfd(dir), e->d_name, 0) == 0) {
      ++removed;
    }
  }
  closedir(dir);
  return removed;
}

}  // namespace

int64_t RemoveNamedBelow(const std::string& path, const std::string& prefix,
                         const std::string& suffix) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  return fd < 0 ? 0 : RemoveNamedAt(fd, prefix, suffix);
}

int64_t TreeBytes(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  return fd < 0 ? 0 : TreeBytesAt(fd);
}

absl::Status RemoveTree(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::OkStatus();
    if (errno == ENOTDIR || errno == ELOOP) {
      if (unlink(path.c_str()) == 0) return absl::OkStatus();
    }
    return absl::InternalError(absl::StrCat("removing ", path, ": ", strerror(errno)));
  }
  if (absl::Status s = EmptyDirectory(fd, path); !s.ok()) return s;
  if (rmdir(path.c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(absl::StrCat("removing ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace mlcube
