#include "agent/schedulers/slurm_scheduler.h"

#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "agent/job_log/job_log.h"
#include "agent/schedulers/slurm_array_script.h"
#include "agent/schedulers/task_supervisor.h"
#include "common/file_util.h"

namespace mlcube {
namespace {

constexpr absl::Duration kCancelRetry = absl::Seconds(5);

absl::optional<ExitStatus> RecordedExit(const std::string& step_prefix) {
  auto exit = TaskSupervisor::ReadExit(step_prefix);
  if (!exit.ok()) return absl::nullopt;
  return *exit;
}

}  // namespace

SlurmScheduler::SlurmScheduler(SlurmClient client, absl::Duration min_poll, absl::Duration max_poll)
    : client_(std::move(client)),
      poller_(std::make_unique<SlurmQueuePoller>(&client_, min_poll, max_poll)) {}

absl::StatusOr<SlurmStepRecord> SlurmScheduler::ReadRecord(const std::string& step_prefix) {
  auto text = ReadSmallFile(SlurmStepFiles(step_prefix).record);
  if (!text.ok()) return text.status();
  std::vector<std::string> words = absl::StrSplit(*text, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  SlurmStepRecord record;
  if (words.size() != 2 || !SlurmClient::IsJobId(words[0]) ||
      !absl::SimpleAtoi(words[1], &record.log_start) || record.log_start < 0) {
    return absl::DataLossError(absl::StrCat(step_prefix, ".slurm is malformed"));
  }
  record.slurm_job_id = words[0];
  return record;
}

absl::Status SlurmScheduler::WriteRecord(const std::string& step_prefix,
                                         const SlurmStepRecord& record) {
  return WriteFileAtomically(SlurmStepFiles(step_prefix).record,
                             absl::StrCat(record.slurm_job_id, " ", record.log_start, "\n"));
}

absl::Status SlurmScheduler::WriteStepScripts(const SlurmStep& step) const {
  const SlurmStepFiles files(step.step_prefix);
  SlurmRanks ranks = step.ranks;
  ranks.srun = client_.Binary("srun");
  if (ranks.ThroughSrun()) {
    if (absl::Status s = WriteFileAtomically(
            files.rank_script,
            SlurmBatchScript::RenderRankScript(step.argv, files, step.conveniences, ranks), 0750);
        !s.ok()) {
      return s;
    }
  }
  return WriteFileAtomically(
      files.script, SlurmBatchScript::Render(step.argv, step.cwd, files, step.conveniences, ranks),
      0750);
}

absl::StatusOr<SlurmStepRecord> SlurmScheduler::Submit(const SlurmStep& step) {
  const SlurmStepFiles files(step.step_prefix);
  SlurmStepRecord record;
  record.log_start = JobLog::Size(step.log_path);
  if (access(files.script.c_str(), F_OK) == 0) {
    // An earlier agent wrote the script and may have submitted it.
    auto found = client_.FindByName(step.job_name);
    if (found.ok() && !found->empty()) {
      record.slurm_job_id = found->back();
      if (absl::Status s = WriteRecord(step.step_prefix, record); !s.ok()) return s;
      return record;
    }
  }
  if (absl::Status s = client_.CheckInstalled(); !s.ok()) return s;
  if (absl::Status s = WriteStepScripts(step); !s.ok()) return s;
  auto id = client_.Submit(SlurmBatchScript::SbatchArgv(client_.Binary("sbatch"), step.job_name,
                                                        step.sbatch_options, files),
                           step.env, step.cwd);
  if (!id.ok()) return id.status();
  record.slurm_job_id = *id;
  if (absl::Status s = WriteRecord(step.step_prefix, record); !s.ok()) return s;
  return record;
}

absl::StatusOr<std::string> SlurmScheduler::SubmitArray(const std::vector<SlurmStep>& steps,
                                                        const std::vector<int>& indices,
                                                        int parallel, const std::string& prefix,
                                                        const std::string& job_name) {
  if (steps.empty() || steps.size() != indices.size()) {
    return absl::InvalidArgumentError("a job array needs one step per index");
  }
  const std::string array_script = prefix + ".sh";
  if (access(array_script.c_str(), F_OK) == 0) {
    // An earlier agent wrote the script and may have submitted it.
    auto found = client_.FindByName(job_name);
    if (found.ok() && !found->empty()) return found->back().substr(0, found->back().find('_'));
  }
  if (absl::Status s = client_.CheckInstalled(); !s.ok()) return s;
  std::vector<SlurmArrayElement> elements;
  for (size_t i = 0; i < steps.size(); ++i) {
    const SlurmStep& step = steps[i];
    const SlurmStepFiles files(step.step_prefix);
    SlurmArrayElement element{indices[i], step.step_prefix, !step.env.empty()};
    // The step's own environment (values may be secrets: owner-only, and
    // removed with the job's other env files when the job ends).
    if (element.has_env) {
      if (absl::Status s = WriteFileAtomically(SlurmArrayScript::EnvPath(step.step_prefix),
                                               SlurmArrayScript::EnvFile(step.env), 0600);
          !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = WriteStepScripts(step); !s.ok()) return s;
    elements.push_back(std::move(element));
  }
  if (absl::Status s = WriteFileAtomically(array_script, SlurmArrayScript::Render(elements), 0750);
      !s.ok()) {
    return s;
  }
  return client_.Submit(SlurmArrayScript::SbatchArgv(client_.Binary("sbatch"), job_name,
                                                     SlurmArrayScript::ArraySpec(indices, parallel),
                                                     steps[0].sbatch_options, prefix),
                        {}, prefix.substr(0, prefix.rfind('/') + 1));
}

absl::StatusOr<SlurmStepRecord> SlurmScheduler::RecordElement(const SlurmStep& step,
                                                              const std::string& element_id) {
  SlurmStepRecord record;
  record.slurm_job_id = element_id;
  record.log_start = JobLog::Size(step.log_path);
  if (absl::Status s = WriteRecord(step.step_prefix, record); !s.ok()) return s;
  return record;
}

absl::StatusOr<std::unique_ptr<SlurmStepFollow>> SlurmScheduler::StartFollow(
    const SlurmStep& step, const SlurmStepRecord& record) {
  auto follower = SlurmOutputFollower::Resume(SlurmStepFiles(step.step_prefix), step.log_path,
                                              record.log_start, step.log_max_bytes);
  if (!follower.ok()) return follower.status();
  return std::make_unique<SlurmStepFollow>(poller_.get(), &client_, step.step_prefix, record,
                                           std::move(*follower));
}

SlurmStepFollow::SlurmStepFollow(SlurmQueuePoller* poller, const SlurmClient* client,
                                 std::string step_prefix, SlurmStepRecord record,
                                 SlurmOutputFollower follower)
    : poller_(poller),
      client_(client),
      step_prefix_(std::move(step_prefix)),
      record_(std::move(record)),
      follower_(std::move(follower)) {
  poller_->Watch(record_.slurm_job_id);
}

SlurmStepFollow::~SlurmStepFollow() { poller_->Unwatch(record_.slurm_job_id); }

SlurmStepState SlurmStepFollow::Tick(bool cancelling) {
  const std::string& id = record_.slurm_job_id;
  if (last_.phase == SlurmStepState::Phase::kEnded) return last_;
  (void)follower_.Pump();  // a read error now is retried on the next tick
  if (cancelling && absl::Now() - last_cancel_ > kCancelRetry) {
    last_cancel_ = absl::Now();
    // Discarded on purpose: a refused scancel is retried after kCancelRetry
    // for as long as the job is followed.
    (void)client_->Cancel(id);
    poller_->Kick();
  }
  const absl::optional<ExitStatus> recorded = RecordedExit(step_prefix_);
  // The command is over: ask Slurm now rather than at the next interval
  // (once per exit file: a requeued job's next run removes it).
  const bool fresh = recorded.has_value() && !asked_after_exit_;
  asked_after_exit_ = recorded.has_value();
  SlurmQueuePoller::Snapshot snap =
      fresh ? poller_->GetFresh(id, absl::Seconds(2)) : poller_->Get(id);
  if (snap.generation == seen_generation_) return last_;
  seen_generation_ = snap.generation;
  unknown_polls_ = snap.known ? 0 : unknown_polls_ + 1;
  SlurmStepState state;
  if (snap.known) {
    state = MapSlurmState(snap.info, recorded);
    // The script recorded an exit: the job is over even while Slurm still
    // says RUNNING/COMPLETING (its epilog). A pending (requeued) job is not.
    if (state.phase == SlurmStepState::Phase::kRunning && recorded && !cancelling) {
      state = MapForgottenJob(id, recorded);
    }
  } else if (unknown_polls_ >= 3 || recorded) {
    state = MapForgottenJob(id, recorded);
  } else {
    return last_;
  }
  if (state.phase == SlurmStepState::Phase::kEnded) {
    (void)follower_.Pump();  // the last output, written before the job ended
  }
  last_ = state;
  return last_;
}

}  // namespace mlcube
