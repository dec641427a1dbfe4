#ifndef MLCUBE_REMOTE_COMMON_FILE_UTIL_H_
#define MLCUBE_REMOTE_COMMON_FILE_UTIL_H_

// Small file-system helpers both programs use, with one error convention:
// a full disk is RESOURCE_EXHAUSTED ("agent disk full ..."), a refused
// permission PERMISSION_DENIED, anything else INTERNAL, each naming what was
// being done.

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mlcube {

// The status for a failed write-side system call (`err` is its errno).
absl::Status WriteErrorStatus(int err, absl::string_view what);

// Creates `path` and its missing parents with `mode` (existing ones are
// left as they are). OK when it already exists.
absl::Status MakeDirs(const std::string& path, mode_t mode = 0755);

// Writes a small file durably and atomically: a temp file beside it
// (never following a symlink), fsync, rename over `path`.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view content,
                                 mode_t mode = 0640);

// Reads a whole small file (records, pid files). NOT_FOUND when missing.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path);

// True when `path` is a directory (symlinks followed).
bool IsDirectory(const std::string& path);

// realpath(3): `path` with every symlink resolved; "" when it does not
// resolve (missing, unreadable).
std::string ResolvedPath(const std::string& path);

// Writes all of `data` to `fd` at `offset` (pwrite, retried on EINTR and
// short writes); `what` names the file in errors.
absl::Status WriteAllAt(int fd, absl::string_view data, int64_t offset, absl::string_view what);

// Reads exactly `size` bytes of `fd` at `offset` into `out` (pread, retried
// on EINTR and short reads; the fd's position does not move). DATA_LOSS when
// the file ends first.
absl::Status ReadExactlyAt(int fd, int64_t offset, int64_t size, std::string* out);
// The same into `size` bytes at `out`.
absl::Status ReadExactlyAt(int fd, int64_t offset, int64_t size, char* out);

// Copies `size` bytes of `in` from `in_offset` to `out` at `out_offset`
// (copy_file_range where the filesystem allows, else pread/pwrite; neither
// fd's position moves). DATA_LOSS when `in` ends early; `what` names the
// destination in errors.
absl::Status CopyFileRange(int in, int64_t in_offset, int out, int64_t out_offset, int64_t size,
                           absl::string_view what);

// The names in directory `dir` that start with `prefix`, or with anything
// but a dot when `prefix` is empty; in directory order; none when `dir`
// cannot be read.
std::vector<std::string> ListNames(const std::string& dir, absl::string_view prefix);

// Milliseconds since the Unix epoch, for timestamps in records.
int64_t NowUnixMs();

// A file time (st_mtim, st_ctim) in nanoseconds since the Unix epoch.
int64_t TimespecNs(const struct timespec& t);

// The times for futimens/utimensat that keep the access time and set the
// modification time to `mtime_ns` (nanoseconds since the Unix epoch).
std::array<struct timespec, 2> MtimeOnlyTimes(int64_t mtime_ns);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_FILE_UTIL_H_
