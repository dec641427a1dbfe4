#include "agent/job_log/job_log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/unique_fd.h"

namespace mlcube {
namespace {

bool IsOutput(JobLog::RecordType type) {
  return type == JobLog::RecordType::kStdout || type == JobLog::RecordType::kStderr;
}

// The header at `h`: false when it cannot start a record.
bool ParseHeader(const unsigned char* h, uint32_t* len, uint8_t* type) {
  *len = h[0] | (h[1] << 8) | (h[2] << 16) | (static_cast<uint32_t>(h[3]) << 24);
  *type = h[4];
  return *type >= 1 && *type <= 4 && *len <= JobLog::kMaxPayload;
}

// The first record boundary at or after `target` (at most `end`), walking
// the headers from the boundary `from`; buffered, so small records cost no
// syscall each and a large one is skipped.
absl::StatusOr<int64_t> BoundaryAtOrAfter(int fd, int64_t from, int64_t target, int64_t end) {
  std::string buffer(64 * 1024, '\0');
  int64_t buffer_at = 0;
  int64_t buffered = 0;
  int64_t pos = from;
  while (pos < target && pos + static_cast<int64_t>(JobLog::kHeaderSize) <= end) {
    if (pos < buffer_at || pos + static_cast<int64_t>(JobLog::kHeaderSize) > buffer_at + buffered) {
      const ssize_t n = pread(fd, buffer.data(), buffer.size(), pos);
      if (n < static_cast<ssize_t>(JobLog::kHeaderSize)) {
        return absl::DataLossError(absl::StrCat("job log: cannot read the record at ", pos));
      }
      buffer_at = pos;
      buffered = n;
    }
    uint32_t len = 0;
    uint8_t type = 0;
    if (!ParseHeader(reinterpret_cast<const unsigned char*>(buffer.data() + (pos - buffer_at)),
                     &len, &type)) {
      return absl::DataLossError(absl::StrCat("job log: no record at offset ", pos));
    }
    const int64_t next = pos + static_cast<int64_t>(JobLog::kHeaderSize) + len;
    if (next > end) break;  // not complete yet
    pos = next;
  }
  return pos;
}

// The record a reader at `offset` gets for the cut bytes before `start`.
JobLog::Record CutRecord(int64_t offset, int64_t start) {
  JobLog::Record r;
  r.offset = offset;
  r.next_offset = start;
  r.type = JobLog::RecordType::kAgent;
  r.data = absl::StrCat("mlcube-agent: ", start - offset,
                        " bytes of this job's earlier log were cut; the log keeps its latest "
                        "output only (limits.job_log_bytes)\n");
  return r;
}

// Holds an exclusive flock on a descriptor for its scope.
class FileLock {
 public:
  explicit FileLock(int fd) : fd_(fd) {
    while (flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~FileLock() { flock(fd_, LOCK_UN); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

}  // namespace

absl::StatusOr<JobLog> JobLog::OpenForAppend(const std::string& path, int64_t max_bytes,
                                             CapPolicy policy) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot open job log ", path, ": ", strerror(errno)));
  }
  JobLog log(path, fd, std::max<int64_t>(max_bytes, 4096), policy);
  log.start_ = Start(path);
  return log;
}

JobLog::JobLog(JobLog&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(other.fd_),
      max_bytes_(other.max_bytes_),
      policy_(other.policy_),
      start_(other.start_),
      dropped_(other.dropped_) {
  other.fd_ = -1;
}

JobLog& JobLog::operator=(JobLog&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    path_ = std::move(other.path_);
    fd_ = other.fd_;
    max_bytes_ = other.max_bytes_;
    policy_ = other.policy_;
    start_ = other.start_;
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
  // A cut frees a quarter of the cap: output records fit in that.
  const size_t piece_max = IsOutput(type)
                               ? std::min<size_t>(kMaxPayload, static_cast<size_t>(max_bytes_ / 4))
                               : kMaxPayload;
  do {
    absl::string_view piece = data.substr(0, piece_max);
    data.remove_prefix(piece.size());
    if (IsOutput(type)) {
      if (dropped_) return absl::OkStatus();
      const int64_t record = static_cast<int64_t>(kHeaderSize + piece.size());
      struct stat st {};
      if (fstat(fd_, &st) == 0 && st.st_size - start_ + record > max_bytes_) {
        if (absl::Status room = MakeRoom(record); !room.ok()) return room;
        if (dropped_) return absl::OkStatus();
      }
    }
    absl::Status s = WriteRecord(type, piece);
    if (!s.ok()) return s;
  } while (!data.empty());
  return absl::OkStatus();
}

absl::Status JobLog::MakeRoom(int64_t record_bytes) {
  FileLock lock(fd_);
  start_ = Start(path_);  // another writer may have cut already
  struct stat st {};
  if (fstat(fd_, &st) != 0) return DropFurtherOutput();
  if (st.st_size - start_ + record_bytes <= max_bytes_) return absl::OkStatus();
  if (policy_ == CapPolicy::kKeepHead) return DropFurtherOutput();
  return CutHeadBefore(st.st_size + record_bytes - max_bytes_ * 3 / 4, st.st_size);
}

absl::Status JobLog::CutHeadBefore(int64_t keep_from, int64_t end) {
  UniqueFd reader(open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!reader) return DropFurtherOutput();
  absl::StatusOr<int64_t> boundary = BoundaryAtOrAfter(reader.get(), start_, keep_from, end);
  if (!boundary.ok()) return DropFurtherOutput();    // a damaged log: stop growing it
  if (*boundary <= start_) return absl::OkStatus();  // one record larger than the cut
  // Readers learn the new start before the bytes go (see Read).
  if (!WriteFileAtomically(path_ + ".start", absl::StrCat(*boundary), 0640).ok()) {
    return DropFurtherOutput();
  }
  start_ = *boundary;
  UniqueFd marker(open((path_ + ".truncated").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0640));
  if (fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, start_) != 0) {
    // The filesystem keeps the blocks: the head stays hidden, nothing more
    // is added.
    return DropFurtherOutput();
  }
  return absl::OkStatus();
}

absl::Status JobLog::DropFurtherOutput() {
  dropped_ = true;
  // Only the first writer to notice (agent or supervisor) says so.
  UniqueFd marker(
      open((path_ + ".truncated").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
  if (!marker && policy_ == CapPolicy::kKeepHead) return absl::OkStatus();
  return WriteRecord(RecordType::kAgent,
                     absl::StrCat("mlcube-agent: the job log reached its cap of ", max_bytes_,
                                  " bytes; further task output is dropped\n"));
}

namespace {

// The records from `offset` on, as they are in the file.
absl::StatusOr<std::vector<JobLog::Record>> ReadRecords(const std::string& path, int64_t offset,
                                                        size_t max_bytes) {
  using Record = JobLog::Record;
  constexpr size_t kHeaderSize = JobLog::kHeaderSize;
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
  const size_t window = std::max<size_t>(max_bytes, JobLog::kMaxPayload) + kHeaderSize;
  std::string buffer(std::min<int64_t>(window, st.st_size - offset), '\0');
  ssize_t got = buffer.empty() ? 0 : pread(fd, buffer.data(), buffer.size(), offset);
  close(fd);
  if (got < 0) return absl::UnavailableError(absl::StrCat("read ", path, ": ", strerror(errno)));
  size_t pos = 0;
  size_t payload_total = 0;
  while (pos + kHeaderSize <= static_cast<size_t>(got)) {
    uint32_t len = 0;
    uint8_t type = 0;
    if (!ParseHeader(reinterpret_cast<const unsigned char*>(buffer.data() + pos), &len, &type)) {
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
    r.type = static_cast<JobLog::RecordType>(type);
    r.data.assign(buffer.data() + pos + kHeaderSize, len);
    records.push_back(std::move(r));
    pos += kHeaderSize + len;
    payload_total += len;
    if (payload_total >= max_bytes) break;
  }
  return records;
}

}  // namespace

absl::StatusOr<std::vector<JobLog::Record>> JobLog::Read(const std::string& path, int64_t offset,
                                                         size_t max_bytes) {
  const int64_t start = Start(path);
  if (offset >= 0 && offset < start && offset <= Size(path)) {
    return std::vector<Record>{CutRecord(offset, start)};
  }
  absl::StatusOr<std::vector<Record>> records = ReadRecords(path, offset, max_bytes);
  // A writer may have cut the head while this read: it records the new
  // start before freeing the bytes, so a start past `offset` now means what
  // was read may be gone (zeros). Report the cut instead.
  if (const int64_t after = Start(path); offset >= 0 && offset < after) {
    return std::vector<Record>{CutRecord(offset, after)};
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

int64_t JobLog::Start(const std::string& path) {
  // Every read of a followed log asks twice: a log never cut (the common
  // case) costs one failed open, and no error message is built.
  UniqueFd fd(open((path + ".start").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return 0;
  char text[32];
  ssize_t n;
  do {
    n = pread(fd.get(), text, sizeof(text), 0);
  } while (n < 0 && errno == EINTR);
  int64_t start = 0;
  if (n <= 0 || n == static_cast<ssize_t>(sizeof(text)) ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(text, static_cast<size_t>(n))),
                        &start) ||
      start < 0) {
    return 0;
  }
  return start;
}

int64_t JobLog::DiskBytes(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_blocks) * 512;
}

}  // namespace mlcube
