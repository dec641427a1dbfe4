#include "agent/job_log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace mlcube {
namespace {

bool IsOutput(JobLog::RecordType type) {
  return type == JobLog::RecordType::kStdout || type == JobLog::RecordType::kStderr;
}

}  // namespace

absl::StatusOr<JobLog> JobLog::OpenForAppend(const std::string& path, int64_t max_bytes) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot open job log ", path, ": ", strerror(errno)));
  }
  return JobLog(path, fd, max_bytes);
}

JobLog::JobLog(JobLog&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(other.fd_),
      max_bytes_(other.max_bytes_),
      dropped_(other.dropped_) {
  other.fd_ = -1;
}

JobLog& JobLog::operator=(JobLog&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    path_ = std::move(other.path_);
    fd_ = other.fd_;
    max_bytes_ = other.max_bytes_;
    dropped_ = other.dropped_;
    other.fd_ = -1;
  }
  return *this;
}

JobLog::~JobLog() {
  if (fd_ >= 0) close(fd_);
}

absl::Status JobLog::WriteRecord(RecordType type, absl::string_view data) {
  unsigned char header[kHeaderSize];
  const uint32_t len = static_cast<uint32_t>(data.size());
  header[0] = len & 0xff;
  header[1] = (len >> 8) & 0xff;
  header[2] = (len >> 16) & 0xff;
  header[3] = (len >> 24) & 0xff;
  header[4] = static_cast<unsigned char>(type);
  iovec iov[2] = {{header, kHeaderSize}, {const_cast<char*>(data.data()), data.size()}};
  const ssize_t want = static_cast<ssize_t>(kHeaderSize + data.size());
  for (;;) {
    ssize_t n = writev(fd_, iov, 2);
    if (n == want) return absl::OkStatus();
    if (n < 0 && errno == EINTR) continue;
    if (n >= 0) {
      // A short write (disk full): the tail is a partial record. Readers stop
      // at it; nothing later can be appended meaningfully.
      return absl::ResourceExhaustedError(absl::StrCat("job log ", path_, ": short write"));
    }
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot write job log ", path_, ": ", strerror(errno)));
  }
}

absl::Status JobLog::Append(RecordType type, absl::string_view data) {
  do {
    absl::string_view piece = data.substr(0, kMaxPayload);
    data.remove_prefix(piece.size());
    if (IsOutput(type)) {
      if (dropped_) return absl::OkStatus();
      struct stat st {};
      if (fstat(fd_, &st) == 0 &&
          st.st_size + static_cast<int64_t>(kHeaderSize + piece.size()) > max_bytes_) {
        dropped_ = true;
        // Only the first writer to notice (agent or supervisor) says so.
        const std::string marker = path_ + ".truncated";
        int fd = open(marker.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        if (fd >= 0) {
          close(fd);
          return WriteRecord(RecordType::kAgent,
                             absl::StrCat("mlcube-agent: the job log reached its cap of ",
                                          max_bytes_, " bytes; further task output is dropped\n"));
        }
        return absl::OkStatus();
      }
    }
    absl::Status s = WriteRecord(type, piece);
    if (!s.ok()) return s;
  } while (!data.empty());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<JobLog::Record>> JobLog::Read(const std::string& path, int64_t offset,
                                                         size_t max_bytes) {
  std::vector<Record> records;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("job log ", path, " is missing"));
  struct stat st {};
  fstat(fd, &st);
  if (offset < 0 || offset > st.st_size) {
    close(fd);
    return absl::OutOfRangeError(
        absl::StrCat("offset ", offset, " is past the end of the log (", st.st_size, ")"));
  }
  const size_t window = std::max<size_t>(max_bytes, kMaxPayload) + kHeaderSize;
  std::string buffer(std::min<int64_t>(window, st.st_size - offset), '\0');
  ssize_t got = buffer.empty() ? 0 : pread(fd, buffer.data(), buffer.size(), offset);
  close(fd);
  if (got < 0) return absl::UnavailableError(absl::StrCat("read ", path, ": ", strerror(errno)));
  size_t pos = 0;
  size_t payload_total = 0;
  while (pos + kHeaderSize <= static_cast<size_t>(got)) {
    const unsigned char* h = reinterpret_cast<const unsigned char*>(buffer.data() + pos);
    const uint32_t len = h[0] | (h[1] << 8) | (h[2] << 16) | (static_cast<uint32_t>(h[3]) << 24);
    const uint8_t type = h[4];
    if (type < 1 || type > 4 || len > kMaxPayload) {
      if (records.empty()) {
        return absl::DataLossError(
            absl::StrCat("offset ", offset + pos, " is not a record boundary of the job log"));
      }
      break;
    }
    if (pos + kHeaderSize + len > static_cast<size_t>(got)) break;  // still being written
    Record r;
    r.offset = offset + pos;
    r.next_offset = r.offset + kHeaderSize + len;
    r.type = static_cast<RecordType>(type);
    r.data.assign(buffer.data() + pos + kHeaderSize, len);
    records.push_back(std::move(r));
    pos += kHeaderSize + len;
    payload_total += len;
    if (payload_total >= max_bytes) break;
  }
  return records;
}

int64_t JobLog::Size(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_size;
}

bool JobLog::Truncated(const std::string& path) {
  return access((path + ".truncated").c_str(), F_OK) == 0;
}

}  // namespace mlcube
