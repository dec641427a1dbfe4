#include "agent/runtimes/build_context.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/beneath_dir.h"
#include "common/safe_path.h"

namespace mlcube {
namespace {

std::string Quoted(absl::string_view text) {
  return absl::StrCat("'", PrintableExcerpt(text), "'");
}

// Without openat2: one component at a time, every symlink refused (EXDEV).
int OpenWithoutSymlinks(int dirfd, const std::string& path, int flags) {
  const std::vector<std::string> parts = absl::StrSplit(path, '/');
  UniqueFd current(fcntl(dirfd, F_DUPFD_CLOEXEC, 0));
  for (size_t i = 0; current && i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    struct stat st;
    if (fstatat(current.get(), parts[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return -1;
    if (S_ISLNK(st.st_mode)) {
      errno = EXDEV;
      return -1;
    }
    const int next_flags = last ? flags : O_PATH | O_DIRECTORY;
    current.Reset(openat(current.get(), parts[i].c_str(), next_flags | O_NOFOLLOW | O_CLOEXEC));
  }
  return current ? current.Release() : -1;
}

}  // namespace

absl::StatusOr<std::string> BuildContext::CleanRelative(absl::string_view relative,
                                                        absl::string_view key) {
  if (relative.empty() || relative[0] == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": ", Quoted(relative),
                     " is not a path inside the build context (absolute paths "
                     "are refused: builds see only their build context)"));
  }
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(relative, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat(key, ": ", Quoted(relative),
                       " leaves the build context ('..' is refused: builds see only their build "
                       "context)"));
    }
    parts.emplace_back(part);
  }
  return parts.empty() ? std::string(".") : absl::StrJoin(parts, "/");
}

absl::StatusOr<BuildContext> BuildContext::Open(const std::string& cube_root,
                                                const std::string& context_dir,
                                                absl::string_view key) {
  const std::string root = NormalizePath(cube_root);
  const std::string dir = NormalizePath(context_dir);
  if (!IsWithin(dir, root)) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": ", Quoted(context_dir), " is outside the cube directory"));
  }
  UniqueFd root_fd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd) {
    return absl::NotFoundError(absl::StrCat("cannot open ", root, ": ", strerror(errno)));
  }
  BuildContext cube(root, std::move(root_fd));
  if (dir == root) return cube;
  auto fd = cube.OpenBeneath(dir.substr(root.size() + 1), key, O_PATH | O_DIRECTORY);
  if (!fd.ok()) return fd.status();
  return BuildContext(dir, std::move(*fd));
}

absl::StatusOr<BuildContext> BuildContext::OpenForCube(const Cube& cube,
                                                       const std::string& context_dir,
                                                       absl::string_view key) {
  const std::string& synced = cube.synced_build_context;
  const bool in_synced = !synced.empty() && IsWithin(NormalizePath(context_dir), synced);
  return Open(in_synced ? synced : cube.root, context_dir, key);
}

absl::StatusOr<UniqueFd> BuildContext::OpenBeneath(absl::string_view relative,
                                                   absl::string_view key, int flags) const {
  auto clean = CleanRelative(relative, key);
  if (!clean.ok()) return clean.status();
  int fd = OpenAt2(fd_.get(), *clean, flags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
  if (fd < 0 && errno == ENOSYS) fd = OpenWithoutSymlinks(fd_.get(), *clean, flags);
  if (fd >= 0) return UniqueFd(fd);
  const int error = errno;
  if (error == ENOENT) {
    return absl::NotFoundError(
        absl::StrCat(key, ": ", Quoted(relative), " does not exist in the build context ", path_));
  }
  if (error == EXDEV || error == ELOOP) {
    return absl::InvalidArgumentError(absl::StrCat(
        key, ": ", Quoted(relative),
        " leads outside the build context through a symlink (builds see only their build "
        "context)"));
  }
  return absl::InvalidArgumentError(absl::StrCat(key, ": cannot open ", Quoted(relative),
                                                 " in the build context: ", strerror(error)));
}

absl::StatusOr<std::string> BuildContext::ReadFile(absl::string_view relative,
                                                   absl::string_view key, int64_t max_bytes) const {
  auto fd = OpenBeneath(relative, key, O_RDONLY | O_NONBLOCK);
  if (!fd.ok()) return fd.status();
  struct stat st;
  if (fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": ", Quoted(relative), " is not a regular file"));
  }
  if (st.st_size > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": ", Quoted(relative), " is larger than ", max_bytes, " bytes"));
  }
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = read(fd->get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  data.resize(done);
  return data;
}

absl::Status BuildContext::CheckCopySource(absl::string_view relative, absl::string_view key,
                                           size_t max_entries) const {
  auto clean = CleanRelative(relative, key);
  if (!clean.ok()) return clean.status();
  auto top = OpenBeneath(*clean, key, O_PATH);
  if (!top.ok()) return top.status();
  struct stat st;
  if (fstat(top->get(), &st) != 0 || !S_ISDIR(st.st_mode)) return absl::OkStatus();
  auto first = OpenBeneath(*clean, key, O_RDONLY | O_DIRECTORY);
  if (!first.ok()) return first.status();
  std::vector<std::pair<UniqueFd, std::string>> pending;
  pending.emplace_back(std::move(*first), *clean);
  size_t entries = 0;
  while (!pending.empty()) {
    auto [dir_fd, dir_path] = std::move(pending.back());
    pending.pop_back();
    std::unique_ptr<DIR, int (*)(DIR*)> dir(fdopendir(dir_fd.get()), closedir);
    if (!dir) continue;
    const int dir_raw = dir_fd.Release();  // owned by `dir` now
    while (dirent* entry = readdir(dir.get())) {
      const std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      if (++entries > max_entries) {
        return absl::ResourceExhaustedError(absl::StrCat(
            key, ": ", Quoted(relative), " holds more than ", max_entries, " entries"));
      }
      const std::string path = absl::StrCat(dir_path, "/", name);
      if (fstatat(dir_raw, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        UniqueFd child(
            openat(dir_raw, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (child) pending.emplace_back(std::move(child), path);
      } else if (S_ISLNK(st.st_mode)) {
        auto target = OpenBeneath(path, key, O_PATH);
        if (absl::IsNotFound(target.status())) continue;  // dangling: the copy fails
        if (!target.ok()) return target.status();
        if (fstat(target->get(), &st) == 0 && S_ISDIR(st.st_mode)) {
          return absl::InvalidArgumentError(absl::StrCat(
              key, ": ", Quoted(path),
              " is a symlink to a directory (copied with every link followed); name the "
              "directory itself"));
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace mlcube
