#include "common/file_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/unique_fd.h"

namespace mlcube {

absl::Status WriteErrorStatus(int err, absl::string_view what) {
  if (err == ENOSPC || err == EDQUOT) {
    return absl::ResourceExhaustedError(
        absl::StrCat("agent disk full (", strerror(err), ") while ", what));
  }
  if (err == EACCES || err == EPERM) {
    return absl::PermissionDeniedError(absl::StrCat(what, ": ", strerror(err)));
  }
  return absl::InternalError(absl::StrCat(what, ": ", strerror(err)));
}

absl::Status MakeDirs(const std::string& path, mode_t mode) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    const std::string partial = path.substr(0, i);
    if (mkdir(partial.c_str(), mode) != 0 && errno != EEXIST) {
      return WriteErrorStatus(errno, absl::StrCat("creating ", partial));
    }
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view content, mode_t mode) {
  const std::string temp = absl::StrCat(path, ".tmp.", getpid());
  UniqueFd fd(open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) return WriteErrorStatus(errno, absl::StrCat("creating ", temp));
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      absl::Status failed =
          WriteErrorStatus(n < 0 ? errno : ENOSPC, absl::StrCat("writing ", temp));
      unlink(temp.c_str());
      return failed;
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd.get()) != 0) {
    absl::Status failed = WriteErrorStatus(errno, absl::StrCat("fsync ", temp));
    unlink(temp.c_str());
    return failed;
  }
  fd.Reset();
  if (rename(temp.c_str(), path.c_str()) != 0) {
    absl::Status failed = WriteErrorStatus(errno, absl::StrCat("renaming ", temp, " to ", path));
    unlink(temp.c_str());
    return failed;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path, " is missing"));
    return absl::InternalError(absl::StrCat("reading ", path, ": ", strerror(errno)));
  }
  std::string out;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("reading ", path, ": ", strerror(errno)));
    if (n == 0) return out;
    out.append(buffer, static_cast<size_t>(n));
  }
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t TimespecNs(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

std::array<struct timespec, 2> MtimeOnlyTimes(int64_t mtime_ns) {
  std::array<struct timespec, 2> times{};
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;
  times[1].tv_sec = mtime_ns / 1000000000;
  times[1].tv_nsec = mtime_ns % 1000000000;
  return times;
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string ResolvedPath(const std::string& path) {
  char* real = realpath(path.c_str(), nullptr);
  if (real == nullptr) return "";
  std::string out = real;
  free(real);
  return out;
}

absl::Status WriteAllAt(int fd, absl::string_view data, int64_t offset, absl::string_view what) {
  for (size_t done = 0; done < data.size();) {
    ssize_t n =
        pwrite(fd, data.data() + done, data.size() - done, offset + static_cast<int64_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return WriteErrorStatus(errno, absl::StrCat("writing ", what));
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status ReadExactlyAt(int fd, int64_t offset, int64_t size, std::string* out) {
  out->resize(static_cast<size_t>(size));
  return ReadExactlyAt(fd, offset, size, out->data());
}

absl::Status ReadExactlyAt(int fd, int64_t offset, int64_t size, char* out) {
  int64_t got = 0;
  while (got < size) {
    ssize_t n = pread(fd, out + got, static_cast<size_t>(size - got), offset + got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::DataLossError(absl::StrCat("file ends before byte ", offset + size));
    got += n;
  }
  return absl::OkStatus();
}

absl::Status CopyFileRange(int in, int64_t in_offset, int out, int64_t out_offset, int64_t size,
                           absl::string_view what) {
  int64_t done = 0;
  while (done < size) {
    loff_t from = in_offset + done;
    loff_t to = out_offset + done;
    ssize_t n = copy_file_range(in, &from, out, &to, static_cast<size_t>(size - done), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
      break;
    }
    if (n < 0) return WriteErrorStatus(errno, absl::StrCat("writing ", what));
    if (n == 0) return absl::DataLossError(absl::StrCat("source of ", what, " is short"));
    done += n;
  }
  std::vector<char> buffer;
  while (done < size) {
    buffer.resize(static_cast<size_t>(std::min<int64_t>(size - done, 1 << 20)));
    ssize_t n = pread(in, buffer.data(), buffer.size(), in_offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::DataLossError(absl::StrCat("source of ", what, " is short"));
    absl::Status s = WriteAllAt(out, absl::string_view(buffer.data(), static_cast<size_t>(n)),
                                out_offset + done, what);
    if (!s.ok()) return s;
    done += n;
  }
  return absl::OkStatus();
}

std::vector<std::string> ListNames(const std::string& dir, absl::string_view prefix) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    const absl::string_view name(e->d_name);
    if (prefix.empty() ? name[0] != '.' : absl::StartsWith(name, prefix)) {
      names.emplace_back(e->d_name);
    }
  }
  closedir(d);
  return names;
}

}  // namespace mlcube
