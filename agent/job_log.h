#ifndef MLCUBE_REMOTE_AGENT_JOB_LOG_H_
#define MLCUBE_REMOTE_AGENT_JOB_LOG_H_

// A job's log: an append-only file of framed records (stdout, stderr, agent
// messages, state changes) in the order they happened. A record is
//   u32 little-endian payload length | u8 type | payload
// and is written with one write(2) on an O_APPEND descriptor, so the agent
// and the task supervisor (a separate process) can append concurrently
// without interleaving inside a record. Offsets are byte offsets of record
// starts: a watcher that resumes at the next_offset it last saw gets every
// later record exactly once. The file survives agent restarts.
//
// Size cap: task output that would grow the file past the cap is dropped;
// the first drop appends one agent record saying so and creates
// `LOG.truncated`. Agent and state records are small and always written, so
// the final state of a job is never lost.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mlcube {

class JobLog {
 public:
  enum class RecordType : uint8_t { kStdout = 1, kStderr = 2, kAgent = 3, kState = 4 };

  struct Record {
    int64_t offset = 0;
    int64_t next_offset = 0;
    RecordType type = RecordType::kAgent;
    std::string data;
  };

  static constexpr size_t kHeaderSize = 5;
  // Larger writes are split; keeps every record within the 1 MiB wire limit.
  static constexpr size_t kMaxPayload = 256 * 1024;

  // Opens (creating) the log for appending.
  static absl::StatusOr<JobLog> OpenForAppend(const std::string& path, int64_t max_bytes);

  JobLog(JobLog&& other) noexcept;
  JobLog& operator=(JobLog&& other) noexcept;
  JobLog(const JobLog&) = delete;
  JobLog& operator=(const JobLog&) = delete;
  ~JobLog();

  // Appends one or more records (split at kMaxPayload). Output past the cap
  // is dropped without error.
  absl::Status Append(RecordType type, absl::string_view data);

  // Reads the complete records starting at `offset` (a record boundary),
  // about `max_bytes` of payload at most (always at least one record when
  // one is there). A record still being written at the end is not returned.
  // OUT_OF_RANGE when offset is past the end, DATA_LOSS when offset is not a
  // record boundary.
  static absl::StatusOr<std::vector<Record>> Read(const std::string& path, int64_t offset,
                                                  size_t max_bytes);

  // Current size of the log file; 0 when missing.
  static int64_t Size(const std::string& path);
  static bool Truncated(const std::string& path);

 private:
  JobLog(std::string path, int fd, int64_t max_bytes)
      : path_(std::move(path)), fd_(fd), max_bytes_(max_bytes) {}
  absl::Status WriteRecord(RecordType type, absl::string_view data);

  std::string path_;
  int fd_ = -1;
  int64_t max_bytes_ = 0;
  bool dropped_ = false;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_JOB_LOG_H_
