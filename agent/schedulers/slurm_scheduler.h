#ifndef MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_SCHEDULER_H_
#define MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_SCHEDULER_H_

// Runs a job's step as a Slurm batch job: writes the batch script around the
// runtime's command, submits it with sbatch, records the Slurm job id in
// PREFIX.slurm (with where the step's log records start), then follows it:
// output files copied into the job log (SlurmOutputFollower), state from the
// shared SlurmQueuePoller, cancel with scancel. A restarted agent calls
// Follow() again for a step that has a record and goes on where it stopped.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/schedulers/slurm_batch_script.h"
#include "agent/schedulers/slurm_client.h"
#include "agent/schedulers/slurm_job_state.h"
#include "agent/schedulers/slurm_output_follower.h"
#include "agent/schedulers/slurm_queue_poller.h"

namespace mlcube {

struct SlurmStep {
  std::string job_name;  // "mlcube-JOBID-N": finds a job submitted but not recorded
  std::string step_prefix;
  std::string log_path;
  int64_t log_max_bytes = 0;
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::string cwd;
  std::vector<std::string> sbatch_options;  // SbatchResourceOptions
  SlurmConveniences conveniences;
  SlurmRanks ranks;  // srun is the client's
};

struct SlurmStepRecord {
  std::string slurm_job_id;
  int64_t log_start = 0;
};

// One submitted step being followed. Tick() copies new output into the job
// log and returns the step's state; once it says kEnded the step is over.
class SlurmStepFollow {
 public:
  SlurmStepFollow(SlurmQueuePoller* poller, const SlurmClient* client, std::string step_prefix,
                  SlurmStepRecord record, SlurmOutputFollower follower);
  ~SlurmStepFollow();  // stops asking Slurm about the job
  SlurmStepFollow(const SlurmStepFollow&) = delete;
  SlurmStepFollow& operator=(const SlurmStepFollow&) = delete;

  // `cancelling`: scancel the job (again every few seconds) and wait for
  // Slurm to end it.
  SlurmStepState Tick(bool cancelling);
  const std::string& slurm_job_id() const { return record_.slurm_job_id; }

 private:
  SlurmQueuePoller* poller_;
  const SlurmClient* client_;
  const std::string step_prefix_;
  const SlurmStepRecord record_;
  SlurmOutputFollower follower_;
  SlurmStepState last_;
  absl::Time last_cancel_ = absl::InfinitePast();
  int64_t seen_generation_ = 0;
  int unknown_polls_ = 0;
  bool asked_after_exit_ = false;
};

class SlurmScheduler {
 public:
  explicit SlurmScheduler(SlurmClient client, absl::Duration min_poll = absl::Milliseconds(250),
                          absl::Duration max_poll = absl::Seconds(5));

  const SlurmClient& client() const { return client_; }

  // The step's record; NOT_FOUND when it was never submitted.
  static absl::StatusOr<SlurmStepRecord> ReadRecord(const std::string& step_prefix);

  // Writes the script, submits, records. When the step's script exists but
  // no record does (the agent died inside sbatch), looks for the job by
  // name first instead of submitting a second one.
  absl::StatusOr<SlurmStepRecord> Submit(const SlurmStep& step);

  // Submits `steps` (the task steps of a batch's runs, `indices[i]` the
  // array index of `steps[i]`) as one job array named `job_name`: writes each
  // step's script (and PREFIX.env), the array script at `prefix`.sh, runs one
  // sbatch --array with steps[0]'s resource options and `parallel` as %P.
  // Returns the array's job id. When the array script exists (the agent died
  // inside sbatch), looks for the array by name first.
  absl::StatusOr<std::string> SubmitArray(const std::vector<SlurmStep>& steps,
                                          const std::vector<int>& indices, int parallel,
                                          const std::string& prefix, const std::string& job_name);

  // Records `step` as running as `element_id` ("JOBID_INDEX") of an array.
  absl::StatusOr<SlurmStepRecord> RecordElement(const SlurmStep& step,
                                                const std::string& element_id);

  // Starts following a submitted step (after a restart too: the output
  // already in the log is not copied again).
  absl::StatusOr<std::unique_ptr<SlurmStepFollow>> StartFollow(const SlurmStep& step,
                                                               const SlurmStepRecord& record);

  int64_t polls() const { return poller_->polls(); }

 private:
  absl::Status WriteRecord(const std::string& step_prefix, const SlurmStepRecord& record);
  // PREFIX.sh, and PREFIX.rank.sh for a step of several ranks.
  absl::Status WriteStepScripts(const SlurmStep& step) const;

  SlurmClient client_;
  std::unique_ptr<SlurmQueuePoller> poller_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_SCHEDULER_H_
