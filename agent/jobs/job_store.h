#ifndef MLCUBE_REMOTE_AGENT_JOBS_JOB_STORE_H_
#define MLCUBE_REMOTE_AGENT_JOBS_JOB_STORE_H_

// Jobs on disk, one directory per job under STATE/jobs/ID/:
//   job.pb      the Job record (binary proto), replaced atomically
//   request.pb  the SubmitJobRequest it came from
//   log         the JobLog
//   plan        the steps decided when the job started, one per line
//   step-N.*    files of the TaskSupervisor of step N
//   cancel      present once a cancel was asked for
// Everything needed to resume a job after an agent restart is here.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/state/state_layout.h"
#include "agent/validation/request_validator.h"  // IsValidJobId
#include "mlcube_remote/v1/jobs.pb.h"

namespace mlcube {

struct StoredJob {
  mlcube_remote::v1::Job job;
  mlcube_remote::v1::SubmitJobRequest request;
};

class JobStore {
 public:
  // `layout` is not owned and outlives the store.
  explicit JobStore(const StateLayout* layout) : layout_(layout) {}

  // Creates a fresh job directory with a new unique id (8 hex digits).
  absl::StatusOr<std::string> CreateJobDir();

  absl::Status Save(const mlcube_remote::v1::Job& job);
  absl::Status SaveRequest(const std::string& id, const mlcube_remote::v1::SubmitJobRequest& r);

  // Every job with a readable record; unreadable directories are skipped.
  std::vector<StoredJob> LoadAll() const;

  // What the job's directory occupies on disk: allocated blocks of its
  // files (a log's cut head is free), the apparent size of what lies in its
  // subdirectories (Slurm's scratch_storage).
  int64_t DiskBytes(const std::string& id) const;

  std::string JobDir(const std::string& id) const { return layout_->JobDir(id); }
  std::string LogPath(const std::string& id) const { return layout_->JobLogFile(id); }

 private:
  const StateLayout* layout_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_JOBS_JOB_STORE_H_
