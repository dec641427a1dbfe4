#include "common/file_tail.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace mlcube {

int64_t FileTail::ModifiedUnixMs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

absl::StatusOr<FileTail> FileTail::Read(int fd, size_t max_bytes, bool whole_lines) {
  struct stat st;
  if (fstat(fd, &st) != 0) return absl::InternalError(absl::StrCat("fstat: ", strerror(errno)));
  FileTail tail;
  tail.file_size = st.st_size;
  tail.modified_unix_ms = ModifiedUnixMs(st);
  const int64_t want = std::min<int64_t>(st.st_size, static_cast<int64_t>(max_bytes));
  const int64_t start = st.st_size - want;
  tail.data.resize(static_cast<size_t>(want));
  size_t got = 0;
  while (got < tail.data.size()) {
    const ssize_t n = pread(fd, &tail.data[got], tail.data.size() - got,
                            static_cast<off_t>(start + static_cast<int64_t>(got)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("read: ", strerror(errno)));
    if (n == 0) break;  // truncated meanwhile
    got += static_cast<size_t>(n);
  }
  tail.data.resize(got);
  tail.head_dropped = start > 0;
  if (!whole_lines) return tail;
  size_t begin = 0;
  if (tail.head_dropped) {
    // The byte before `start` may end a line; only then is data[0] a start.
    char before = 0;
    const bool at_line_start =
        pread(fd, &before, 1, static_cast<off_t>(start - 1)) == 1 && before == '\n';
    if (!at_line_start) {
      const size_t newline = tail.data.find('\n');
      begin = newline == std::string::npos ? tail.data.size() : newline + 1;
    }
  }
  const size_t last = tail.data.rfind('\n');
  const size_t end = last == std::string::npos || last < begin ? begin : last + 1;
  tail.data = tail.data.substr(begin, end - begin);
  return tail;
}

}  // namespace mlcube
