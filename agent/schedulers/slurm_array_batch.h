#ifndef MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_ARRAY_BATCH_H_
#define MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_ARRAY_BATCH_H_

// Gathers the task steps of a batch of runs (SubmitJobs) into one Slurm job
// array. Each run's job thread brings its step when it reaches its task
// (Join) and waits; once every member has joined or withdrawn (it failed or
// was cancelled before its task), the thread that completes the set submits
// the joined steps as one array, and each member gets its element's Slurm id
// "JOBID_INDEX". The submission is recorded (PREFIX.slurm: "JOBID I,J,..."),
// so after an agent restart a member joining again gets its element back
// instead of a second array being submitted.

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agent/schedulers/slurm_scheduler.h"

namespace mlcube {

class SlurmArrayBatch {
 public:
  // Submits the joined steps (ascending index) as one array; the array's
  // Slurm job id.
  using SubmitFn = std::function<absl::StatusOr<std::string>(const std::vector<SlurmStep>& steps,
                                                             const std::vector<int>& indices)>;

  // `record_file`: where the submission is recorded; `members`: the batch
  // indices that will Join or Withdraw.
  SlurmArrayBatch(std::string record_file, std::set<int> members, SubmitFn submit);

  // Waits until the array is submitted and returns this member's element id.
  // `abort` is asked a few times a second while waiting: when it says true
  // the member withdraws and gets CANCELLED.
  absl::StatusOr<std::string> Join(int index, const SlurmStep& step,
                                   const std::function<bool()>& abort);

  // The member will not join (its job ended first). No-op after Join.
  void Withdraw(int index);

  // "JOBID" once submitted, "" before.
  std::string array_id() const;

 private:
  void LoadRecordLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Submits when every member has joined or withdrawn.
  void MaybeSubmitLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::string> ElementLocked(int index) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string record_file_;
  const std::set<int> members_;
  SubmitFn submit_;
  mutable absl::Mutex mu_;
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  std::map<int, SlurmStep> joined_ ABSL_GUARDED_BY(mu_);
  std::set<int> withdrawn_ ABSL_GUARDED_BY(mu_);
  // Set once decided: the array's id and indices, or why it failed.
  bool decided_ ABSL_GUARDED_BY(mu_) = false;
  std::string array_id_ ABSL_GUARDED_BY(mu_);
  std::set<int> submitted_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_ARRAY_BATCH_H_
