#ifndef MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_STEP_SCHEDULER_H_
#define MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_STEP_SCHEDULER_H_

// The StepScheduler of one Slurm job of the agent: task steps become Slurm
// batch jobs (through the agent's shared SlurmScheduler); image builds run
// on the login node under `local` unless the settings say configure: job.
// State lives in the step's files (PREFIX.slurm, PREFIX.exit, PREFIX.lock
// for a local step), so a new instance after a restart finds every step.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/schedulers/slurm_array_batch.h"
#include "agent/schedulers/slurm_scheduler.h"
#include "agent/schedulers/step_scheduler.h"

namespace mlcube {

class SlurmStepScheduler final : public StepScheduler {
 public:
  // Told each new phase or pending reason of a step's Slurm job.
  using ChangeCallback =
      std::function<void(const std::string& slurm_job_id, const SlurmStepState&)>;

  // `shared` and `local` are borrowed. `job_id` names the Slurm jobs
  // ("mlcube-JOBID-N"); `sbatch_options` from SbatchResourceOptions.
  SlurmStepScheduler(SlurmScheduler* shared, StepScheduler* local, std::string job_id,
                     std::vector<std::string> sbatch_options, bool configure_as_job,
                     SlurmConveniences conveniences, SlurmRanks ranks, ChangeCallback on_change);

  // The job is run `index` of a batch whose task steps are one job array:
  // its task step joins `batch` instead of being submitted alone. `abort`:
  // true when the job is cancelled (or the agent stops) while it waits.
  void JoinArray(std::shared_ptr<SlurmArrayBatch> batch, int index, std::function<bool()> abort);

  absl::Status Launch(const SupervisedCommand& command) override;
  bool Launched(const std::string& step_prefix) override;
  bool NeverStarted(const std::string& step_prefix) override;
  bool Running(const std::string& step_prefix) override;
  absl::StatusOr<ExitStatus> ReadExit(const std::string& step_prefix) override;
  std::string EndReason(const std::string& step_prefix) override;
  // scancel (again at most every few seconds; `force` changes nothing:
  // Slurm sends SIGKILL after its KillWait).
  void Stop(const std::string& step_prefix, bool force) override;

 private:
  struct Step {
    SlurmStep step;
    std::unique_ptr<SlurmStepFollow> follow;
    SlurmStepState state;
    bool reported = false;
    bool cancelling = false;
    absl::Time last_tick = absl::InfinitePast();
  };
  bool IsLocal(const std::string& step_prefix) const;
  SlurmStep MakeStep(const SupervisedCommand& command) const;
  // The step's follow, created from its record after a restart.
  Step* Find(const std::string& step_prefix);

  SlurmScheduler* shared_;
  StepScheduler* local_;
  const std::string job_id_;
  const std::vector<std::string> sbatch_options_;
  const bool configure_as_job_;
  const SlurmConveniences conveniences_;
  const SlurmRanks ranks_;
  ChangeCallback on_change_;
  std::shared_ptr<SlurmArrayBatch> array_;
  int array_index_ = 0;
  std::function<bool()> array_abort_;
  std::map<std::string, Step> steps_;
  std::string log_path_;
  int64_t log_max_bytes_ = 0;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_STEP_SCHEDULER_H_
