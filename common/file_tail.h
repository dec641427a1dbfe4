#ifndef MLCUBE_REMOTE_COMMON_FILE_TAIL_H_
#define MLCUBE_REMOTE_COMMON_FILE_TAIL_H_

// The last bytes of a file someone else is still writing (a task's metrics
// file), read through an open fd with a fixed upper bound, so a file of any
// size costs at most `max_bytes` of memory and one pread. With
// `whole_lines` only complete lines are kept: a line cut by the bound at
// the start and an unterminated line at the end (still being written) are
// dropped, so every line handed on parses on its own.

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace mlcube {

struct FileTail {
  std::string data;
  int64_t file_size = 0;  // fstat size when read
  int64_t modified_unix_ms = 0;
  bool head_dropped = false;  // bytes before `data` exist

  // Reads the tail of `fd` (a regular file; the offset is not used or
  // moved). INTERNAL on an I/O error.
  static absl::StatusOr<FileTail> Read(int fd, size_t max_bytes, bool whole_lines);

  // A stat's modification time in milliseconds since the epoch, as
  // `modified_unix_ms` reports it.
  static int64_t ModifiedUnixMs(const struct stat& st);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_FILE_TAIL_H_
