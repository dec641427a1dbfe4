#ifndef MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_OUTPUT_FOLLOWER_H_
#define MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_OUTPUT_FOLLOWER_H_

// Copies a Slurm step's output files (PREFIX.out, PREFIX.err, written by
// slurmstepd on the compute node) into the job log as stdout and stderr
// records, so watchers get the same offsets and resume semantics as for a
// local step.
//
// Exactly once across agent restarts without a second bookkeeping file: the
// step's records start at `log_start` (the log's size when the step was
// submitted; nothing else writes stdout/stderr records while a Slurm step
// runs), so the bytes of each file already copied are the payload bytes of
// the stdout (stderr) records after it. Each copy is one record, one write.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "agent/schedulers/slurm_batch_script.h"

namespace mlcube {

class SlurmOutputFollower {
 public:
  // Reads the log from `log_start` to learn how far each file was copied.
  static absl::StatusOr<SlurmOutputFollower> Resume(const SlurmStepFiles& files,
                                                    const std::string& log_path, int64_t log_start,
                                                    int64_t log_max_bytes);

  // Appends what the output files gained since the last call; returns the
  // number of bytes copied.
  absl::StatusOr<int64_t> Pump();

  int64_t out_offset() const { return out_offset_; }
  int64_t err_offset() const { return err_offset_; }

 private:
  SlurmOutputFollower(const SlurmStepFiles& files, std::string log_path, int64_t log_max_bytes)
      : out_path_(files.out),
        err_path_(files.err),
        log_path_(std::move(log_path)),
        log_max_bytes_(log_max_bytes) {}
  absl::StatusOr<int64_t> PumpFile(const std::string& path, bool is_stderr, int64_t* offset);

  std::string out_path_;
  std::string err_path_;
  std::string log_path_;
  int64_t log_max_bytes_;
  int64_t out_offset_ = 0;
  int64_t err_offset_ = 0;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_OUTPUT_FOLLOWER_H_
