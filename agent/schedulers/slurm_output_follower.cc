#include "agent/schedulers/slurm_output_follower.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "agent/job_log/job_log.h"
#include "common/unique_fd.h"

namespace mlcube {

absl::StatusOr<SlurmOutputFollower> SlurmOutputFollower::Resume(const SlurmStepFiles& files,
                                                                const std::string& log_path,
                                                                int64_t log_start,
                                                                int64_t log_max_bytes) {
  SlurmOutputFollower follower(files, log_path, log_max_bytes);
  int64_t offset = log_start;
  while (offset < JobLog::Size(log_path)) {
    auto records = JobLog::Read(log_path, offset, 4 << 20);
    if (!records.ok()) return records.status();
    if (records->empty()) break;  // a record still being written
    for (const JobLog::Record& r : *records) {
      if (r.type == JobLog::RecordType::kStdout) follower.out_offset_ += r.data.size();
      if (r.type == JobLog::RecordType::kStderr) follower.err_offset_ += r.data.size();
      offset = r.next_offset;
    }
  }
  return follower;
}

absl::StatusOr<int64_t> SlurmOutputFollower::PumpFile(const std::string& path, bool is_stderr,
                                                      int64_t* offset) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return 0;  // the job has not started yet
    return absl::InternalError(absl::StrCat("cannot read ", path, ": ", strerror(errno)));
  }
  // Slurm keeps the whole output in the step files; the job log keeps its
  // head, so Resume can count what was copied.
  auto log = JobLog::OpenForAppend(log_path_, log_max_bytes_, JobLog::CapPolicy::kKeepHead);
  if (!log.ok()) return log.status();
  std::string buffer(JobLog::kMaxPayload, '\0');
  int64_t copied = 0;
  for (;;) {
    ssize_t n = pread(fd.get(), buffer.data(), buffer.size(), *offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return absl::InternalError(absl::StrCat("cannot read ", path, ": ", strerror(errno)));
    if (n == 0) break;
    absl::Status appended =
        log->Append(is_stderr ? JobLog::RecordType::kStderr : JobLog::RecordType::kStdout,
                    absl::string_view(buffer.data(), n));
    if (!appended.ok()) return appended;
    *offset += n;
    copied += n;
  }
  return copied;
}

absl::StatusOr<int64_t> SlurmOutputFollower::Pump() {
  auto out = PumpFile(out_path_, false, &out_offset_);
  if (!out.ok()) return out.status();
  auto err = PumpFile(err_path_, true, &err_offset_);
  if (!err.ok()) return err.status();
  return *out + *err;
}

}  // namespace mlcube
