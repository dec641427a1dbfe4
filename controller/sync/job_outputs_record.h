#ifndef MLCUBE_REMOTE_CONTROLLER_SYNC_JOB_OUTPUTS_RECORD_H_
#define MLCUBE_REMOTE_CONTROLLER_SYNC_JOB_OUTPUTS_RECORD_H_

// Where a job this controller submitted may write in the local workspace:
// its tasks' outputs as the cube named them with the run's own -P
// overrides, recorded at submit time. `sync pull --job` later places only
// those, even for a detached job whose overrides the user does not repeat;
// the agent's word on where its outputs lie is never taken.
//
// One small file per (cube id, job id) under the controller's cache dir
// (ControllerCacheDir()/jobs), named by a hash of both, so a job id from the
// agent never becomes a path.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mlcube {

class JobOutputsRecord {
 public:
  // `dir` holds the records (JobOutputsRecord::DefaultDir() for the CLI).
  explicit JobOutputsRecord(std::string dir) : dir_(std::move(dir)) {}
  static std::string DefaultDir();

  // Writes (atomically) the workspace-relative `outputs` of `job_id`.
  absl::Status Save(const std::string& cube_id, const std::string& job_id,
                    const std::vector<std::string>& outputs) const;

  // The outputs saved for `job_id`; NOT_FOUND when none were (a job
  // submitted elsewhere). Lines that are not valid relative paths are
  // skipped.
  absl::StatusOr<std::vector<std::string>> Load(const std::string& cube_id,
                                                const std::string& job_id) const;

 private:
  std::string FileFor(const std::string& cube_id, const std::string& job_id) const;

  std::string dir_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SYNC_JOB_OUTPUTS_RECORD_H_
