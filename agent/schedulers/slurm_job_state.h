#ifndef MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_JOB_STATE_H_
#define MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_JOB_STATE_H_

// What a Slurm job state means for a step: still waiting (with Slurm's
// reason), running, or over, with our exit code and a one-line reason.
// A requeued job (REQUEUED, REQUEUE_HOLD, PREEMPTED with requeue) goes back
// to waiting and is followed on, not reported as ended.

#include <string>

#include "absl/types/optional.h"
#include "agent/schedulers/slurm_client.h"
#include "agent/subprocess/subprocess.h"

namespace mlcube {

struct SlurmStepState {
  enum class Phase { kPending, kRunning, kEnded };
  Phase phase = Phase::kPending;
  // kPending: Slurm's reason (Priority, Resources, BeginTime, ...).
  std::string pending_reason;
  // kEnded: whether the task succeeded, its exit code, why it failed.
  bool succeeded = false;
  bool cancelled = false;  // by scancel (ours or someone else's)
  int exit_code = 0;
  // Why Slurm ended it ("Slurm job 12 hit its time limit ... (TIMEOUT)");
  // "" when the command ended by itself (exit_code says how).
  std::string reason;
};

// `recorded`: the exit status the batch script wrote (PREFIX.exit), when
// there is one; it is the task's own exit code and wins over Slurm's for
// COMPLETED and FAILED.
SlurmStepState MapSlurmState(const SlurmJobInfo& info, const absl::optional<ExitStatus>& recorded);

// A step whose job Slurm no longer knows (it forgot finished jobs after
// MinJobAge and accounting is off): the exit status the script wrote decides.
SlurmStepState MapForgottenJob(const std::string& id, const absl::optional<ExitStatus>& recorded);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_JOB_STATE_H_
