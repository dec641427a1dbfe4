#include "agent/schedulers/slurm_job_state.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace mlcube {
namespace {

using Phase = SlurmStepState::Phase;

SlurmStepState Ended(bool succeeded, int exit_code, std::string reason) {
  SlurmStepState s;
  s.phase = Phase::kEnded;
  s.succeeded = succeeded;
  s.exit_code = exit_code;
  s.reason = std::move(reason);
  return s;
}

// What each final Slurm state means, in words a user can act on.
const char* FailureText(const std::string& state) {
  if (state == "TIMEOUT") return "hit its time limit (raise slurm.time)";
  if (state == "OUT_OF_MEMORY") return "ran out of memory (raise slurm.mem)";
  if (state == "NODE_FAIL") return "lost its node (node failure)";
  if (state == "BOOT_FAIL") return "could not boot its node";
  if (state == "PREEMPTED") return "was preempted and not requeued";
  if (state == "DEADLINE") return "missed its deadline";
  return nullptr;
}

}  // namespace

SlurmStepState MapSlurmState(const SlurmJobInfo& info, const absl::optional<ExitStatus>& recorded) {
  const std::string& state = info.state;
  const std::string job = absl::StrCat("Slurm job ", info.id);
  if (state == "PENDING" || state == "REQUEUED" || state == "REQUEUE_FED" ||
      state == "REQUEUE_HOLD" || state == "SPECIAL_EXIT" || state == "SUSPENDED" ||
      state == "STOPPED" || state == "RESV_DEL_HOLD") {
    SlurmStepState s;
    s.phase = Phase::kPending;
    s.pending_reason = info.reason.empty() || info.reason == "None" ? state : info.reason;
    if (state == "SUSPENDED" || state == "STOPPED") s.pending_reason = state;
    return s;
  }
  if (state == "CONFIGURING" || state == "RUNNING" || state == "COMPLETING" ||
      state == "SIGNALING" || state == "STAGE_OUT" || state == "RESIZING") {
    SlurmStepState s;
    s.phase = Phase::kRunning;
    return s;
  }
  const int code = recorded ? recorded->ShellCode() : info.exit_code;
  if (state == "COMPLETED") {
    return Ended(code == 0, code, "");
  }
  if (state == "FAILED") {
    if (!recorded) {
      return Ended(false, code,
                   absl::StrCat(job, " failed before the task could record an exit status (",
                                info.reason, ")"));
    }
    return Ended(false, code, "");
  }
  if (state == "CANCELLED") {
    SlurmStepState s = Ended(false, code, absl::StrCat(job, " was cancelled"));
    s.cancelled = true;
    return s;
  }
  if (const char* text = FailureText(state)) {
    return Ended(false, code, absl::StrCat(job, " ", text, " (", state, ")"));
  }
  return Ended(false, code, absl::StrCat(job, " ended in state ", state));
}

SlurmStepState MapForgottenJob(const std::string& id, const absl::optional<ExitStatus>& recorded) {
  if (recorded) {
    const int code = recorded->ShellCode();
    return Ended(code == 0, code, "");
  }
  return Ended(false, 0,
               absl::StrCat("Slurm job ", id,
                            " is no longer known to Slurm and left no exit status (killed, or its "
                            "node failed)"));
}

}  // namespace mlcube
