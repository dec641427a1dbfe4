#ifndef MLCUBE_REMOTE_AGENT_JOB_LOG_JOB_LOG_H_
#define MLCUBE_REMOTE_AGENT_JOB_LOG_JOB_LOG_H_

// A job's log: an append-only file of framed records (stdout, stderr, agent
// messages, state changes) in the order they happened. A record is
//   u32 little-endian payload length | u8 type | payload
// and is written with one write(2) on an O_APPEND descriptor, so the agent
// and the task supervisor (a separate process) can append concurrently
// without interleaving inside a record. Offsets are byte offsets of record
// starts: a watcher that resumes at the next_offset it last saw gets every
// later record exactly once. The file survives agent restarts.
//
// Size cap (limits.job_log_bytes): the part of the file kept never grows
// past the cap. With kKeepTail (the default) task output that would pass it
// cuts the oldest records first, a quarter of the cap at a time: the writer
// records the offset of the first record kept in `LOG.start`, then punches
// the head out of the file (fallocate PUNCH_HOLE: its disk blocks are freed,
// later records keep their offsets). A reader asking for an offset before
// the start gets one agent record [offset, start) saying how many bytes
// were cut, then the tail: offsets stay monotonic, nothing is delivered
// twice, a follower that kept up misses nothing. With kKeepHead (Slurm,
// whose step output files keep everything), or where the filesystem cannot
// punch holes, further task output is dropped instead, with one agent
// record saying so. Either way `LOG.truncated` is created. Agent and state
// records are small and always written, so the final state of a job is
// never lost.

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

  // What happens to task output that would pass the cap.
  enum class CapPolicy { kKeepTail, kKeepHead };

  // Opens (creating) the log for appending; `max_bytes` at least 4096.
  static absl::StatusOr<JobLog> OpenForAppend(const std::string& path, int64_t max_bytes,
                                              CapPolicy policy = CapPolicy::kKeepTail);

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
  // record boundary. An offset before Start() (cut) gets one agent record
  // from `offset` to Start() saying how much was cut.
  static absl::StatusOr<std::vector<Record>> Read(const std::string& path, int64_t offset,
                                                  size_t max_bytes);

  // Current size of the log file; 0 when missing.
  static int64_t Size(const std::string& path);
  static bool Truncated(const std::string& path);
  // The offset of the first record kept; 0 until the head was cut.
  static int64_t Start(const std::string& path);
  // What the log occupies on disk (allocated blocks; a cut head is free).
  static int64_t DiskBytes(const std::string& path);

 private:
  JobLog(std::string path, int fd, int64_t max_bytes, CapPolicy policy)
      : path_(std::move(path)), fd_(fd), max_bytes_(max_bytes), policy_(policy) {}
  absl::Status WriteRecord(RecordType type, absl::string_view data);
  // Called when `record_bytes` more would pass the cap: cuts the head (under
  // an flock, so two writers never cut at once) or drops further output.
  absl::Status MakeRoom(int64_t record_bytes);
  absl::Status DropFurtherOutput();
  // The kept start is recorded, then the bytes before it are freed.
  absl::Status CutHeadBefore(int64_t keep_from, int64_t end);

  std::string path_;
  int fd_ = -1;
  int64_t max_bytes_ = 0;
  CapPolicy policy_ = CapPolicy::kKeepTail;
  int64_t start_ = 0;  // as last read from LOG.start; only grows
  bool dropped_ = false;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_JOB_LOG_JOB_LOG_H_
