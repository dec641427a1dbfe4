#include "agent/schedulers/slurm_step_scheduler.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mlcube {
namespace {

constexpr absl::Duration kTickInterval = absl::Milliseconds(50);

// "STATE/jobs/ID/step-3" -> "3"
std::string StepNumber(const std::string& step_prefix) {
  const size_t dash = step_prefix.rfind('-');
  return dash == std::string::npos ? "0" : step_prefix.substr(dash + 1);
}

}  // namespace

SlurmStepScheduler::SlurmStepScheduler(SlurmScheduler* shared, StepScheduler* local,
                                       std::string job_id, std::vector<std::string> sbatch_options,
                                       bool configure_as_job, SlurmConveniences conveniences,
                                       SlurmRanks ranks, ChangeCallback on_change)
    : shared_(shared),
      local_(local),
      job_id_(std::move(job_id)),
      sbatch_options_(std::move(sbatch_options)),
      configure_as_job_(configure_as_job),
      conveniences_(std::move(conveniences)),
      ranks_(std::move(ranks)),
      on_change_(std::move(on_change)) {}

bool SlurmStepScheduler::IsLocal(const std::string& step_prefix) const {
  return local_->Launched(step_prefix);
}

SlurmStep SlurmStepScheduler::MakeStep(const SupervisedCommand& command) const {
  SlurmStep step;
  step.job_name = absl::StrCat("mlcube-", job_id_, "-", StepNumber(command.step_prefix));
  step.step_prefix = command.step_prefix;
  step.log_path = command.log_path;
  step.log_max_bytes = command.log_max_bytes;
  step.argv = command.argv;
  step.env = command.env;
  step.cwd = command.cwd;
  step.sbatch_options = sbatch_options_;
  // An image build gets none: APPTAINER_BIND would reach its %post too.
  // An image build is one process on one node.
  if (!command.configure) {
    step.conveniences = conveniences_;
    step.ranks = ranks_;
  }
  return step;
}

void SlurmStepScheduler::JoinArray(std::shared_ptr<SlurmArrayBatch> batch, int index,
                                   std::function<bool()> abort) {
  array_ = std::move(batch);
  array_index_ = index;
  array_abort_ = std::move(abort);
}

absl::Status SlurmStepScheduler::Launch(const SupervisedCommand& command) {
  if (command.configure && !configure_as_job_) return local_->Launch(command);
  // Remembered for re-attaching: a restarted agent has no SupervisedCommand.
  log_path_ = command.log_path;
  log_max_bytes_ = command.log_max_bytes;
  SlurmStep step = MakeStep(command);
  absl::StatusOr<SlurmStepRecord> record;
  if (array_ && !command.configure) {
    auto element = array_->Join(array_index_, step, array_abort_);
    if (!element.ok()) return element.status();
    record = shared_->RecordElement(step, *element);
  } else {
    record = shared_->Submit(step);
  }
  if (!record.ok()) return record.status();
  auto follow = shared_->StartFollow(step, *record);
  if (!follow.ok()) return follow.status();
  Step& slot = steps_[command.step_prefix];
  slot.step = std::move(step);
  slot.follow = std::move(*follow);
  return absl::OkStatus();
}

bool SlurmStepScheduler::Launched(const std::string& step_prefix) {
  if (IsLocal(step_prefix)) return true;
  return access(SlurmStepFiles(step_prefix).script.c_str(), F_OK) == 0 ||
         SlurmScheduler::ReadRecord(step_prefix).ok();
}

bool SlurmStepScheduler::NeverStarted(const std::string& step_prefix) {
  if (IsLocal(step_prefix)) return local_->NeverStarted(step_prefix);
  // No record: Launch again, which finds a job the dead agent submitted by
  // its name before submitting anew.
  return !SlurmScheduler::ReadRecord(step_prefix).ok();
}

SlurmStepScheduler::Step* SlurmStepScheduler::Find(const std::string& step_prefix) {
  auto it = steps_.find(step_prefix);
  if (it != steps_.end()) return &it->second;
  auto record = SlurmScheduler::ReadRecord(step_prefix);
  if (!record.ok()) return nullptr;
  SupervisedCommand command;
  command.step_prefix = step_prefix;
  // The job log sits beside the step files (StateLayout::JobLogFile).
  command.log_path =
      log_path_.empty() ? step_prefix.substr(0, step_prefix.rfind('/') + 1) + "log" : log_path_;
  command.log_max_bytes = log_max_bytes_ > 0 ? log_max_bytes_ : (64LL << 20);
  SlurmStep step = MakeStep(command);
  auto follow = shared_->StartFollow(step, *record);
  if (!follow.ok()) return nullptr;
  Step& slot = steps_[step_prefix];
  slot.step = std::move(step);
  slot.follow = std::move(*follow);
  return &slot;
}

bool SlurmStepScheduler::Running(const std::string& step_prefix) {
  if (IsLocal(step_prefix)) return local_->Running(step_prefix);
  Step* step = Find(step_prefix);
  if (step == nullptr) return false;
  if (step->state.phase == SlurmStepState::Phase::kEnded) return false;
  const absl::Time now = absl::Now();
  if (now - step->last_tick < kTickInterval) return true;
  step->last_tick = now;
  SlurmStepState state = step->follow->Tick(step->cancelling);
  const bool changed = !step->reported || state.phase != step->state.phase ||
                       state.pending_reason != step->state.pending_reason;
  step->state = state;
  step->reported = true;
  if (changed && on_change_) on_change_(step->follow->slurm_job_id(), state);
  return state.phase != SlurmStepState::Phase::kEnded;
}

absl::StatusOr<ExitStatus> SlurmStepScheduler::ReadExit(const std::string& step_prefix) {
  if (IsLocal(step_prefix)) return local_->ReadExit(step_prefix);
  Step* step = Find(step_prefix);
  if (step == nullptr || step->state.phase != SlurmStepState::Phase::kEnded) {
    return absl::NotFoundError(absl::StrCat(step_prefix, ": no Slurm outcome yet"));
  }
  ExitStatus status;
  status.code = step->state.exit_code;
  return status;
}

std::string SlurmStepScheduler::EndReason(const std::string& step_prefix) {
  if (IsLocal(step_prefix)) return local_->EndReason(step_prefix);
  Step* step = Find(step_prefix);
  if (step == nullptr) return "";
  return step->state.reason;
}

void SlurmStepScheduler::Stop(const std::string& step_prefix, bool force) {
  if (IsLocal(step_prefix)) return local_->Stop(step_prefix, force);
  Step* step = Find(step_prefix);
  if (step != nullptr) step->cancelling = true;  // the next Tick sends scancel
}

}  // namespace mlcube
