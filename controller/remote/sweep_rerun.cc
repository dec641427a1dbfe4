#include "controller/remote/sweep_rerun.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "controller/remote/job_call.h"
#include "controller/sweeps/live_metrics.h"
#include "controller/sweeps/sweep_record.h"

namespace mlcube {
namespace {

constexpr std::chrono::seconds kAgentTimeout{30};

bool Failed(const RunRecord& run) { return run.state == "FAILED" || run.state == "CANCELLED"; }

// Brings the unfinished runs up to date; false (with `error`) when one's
// host cannot say.
bool Refresh(SweepRecord* sweep, const AgentForHost& agent_for, std::string* error) {
  for (RunRecord& run : sweep->runs) {
    if (run.finished() || run.job_id.empty()) continue;
    absl::StatusOr<std::shared_ptr<AgentConnection>> agent = agent_for(run.host);
    if (!agent.ok()) {
      *error = absl::StrCat("run ", run.id, ": ", agent.status().message());
      return false;
    }
    absl::StatusOr<mlcube_remote::v1::Job> job = CallForJob(
        **agent, &mlcube_remote::v1::Jobs::Stub::GetJob, run.job_id, "job ", kAgentTimeout);
    if (!job.ok()) {
      *error = absl::StrCat("run ", run.id, ": ", job.status().message());
      return false;
    }
    ApplyJobToRun(*job, &run);
  }
  return true;
}

absl::StatusOr<mlcube_remote::v1::Job> Rerun(const RunRecord& run, const AgentForHost& agent_for) {
  absl::StatusOr<std::shared_ptr<AgentConnection>> agent = agent_for(run.host);
  if (!agent.ok()) return agent.status();
  return CallForJob(**agent, &mlcube_remote::v1::Jobs::Stub::RerunJob, run.job_id,
                    "re-running job ", kAgentTimeout);
}

void MarkRerun(const mlcube_remote::v1::Job& job, RunRecord* run) {
  RunRecord fresh;
  fresh.id = run->id;
  fresh.index = run->index;
  fresh.repetition = run->repetition;
  fresh.values = run->values;
  fresh.run_dir = run->run_dir;
  fresh.host = run->host;
  fresh.job_id = job.id();
  fresh.state = "QUEUED";
  fresh.submitted_unix_ms = job.created_unix_ms();
  *run = std::move(fresh);
}

}  // namespace

absl::StatusOr<SweepRerunOutcome> RerunFailedRuns(const std::string& workspace,
                                                  const std::string& sweep_id,
                                                  const AgentForHost& agent_for) {
  absl::StatusOr<SweepRecord> sweep = SweepRecord::LoadById(workspace, sweep_id);
  if (!sweep.ok()) return sweep.status();
  std::string error;
  if (!Refresh(&*sweep, agent_for, &error)) return absl::UnavailableError(error);
  int unfinished = 0, failed = 0;
  for (const RunRecord& run : sweep->runs) {
    unfinished += run.finished() ? 0 : 1;
    failed += Failed(run) && !run.job_id.empty() ? 1 : 0;
  }
  if (unfinished > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("sweep ", sweep_id, " has ", unfinished,
                     " unfinished runs: re-run its failed runs once "
                     "every run has ended"));
  }
  if (failed == 0) {
    return absl::FailedPreconditionError(absl::StrCat("sweep ", sweep_id, ": no run failed"));
  }
  SweepRerunOutcome outcome;
  for (RunRecord& run : sweep->runs) {
    if (!Failed(run) || run.job_id.empty()) continue;
    absl::StatusOr<mlcube_remote::v1::Job> job = Rerun(run, agent_for);
    if (!job.ok()) {
      outcome.errors.push_back(absl::StrCat("run ", run.id, ": ", job.status().message()));
      continue;
    }
    MarkRerun(*job, &run);
    outcome.rerun.push_back(absl::StrCat(run.id, " -> job ", job->id()));
  }
  if (!outcome.rerun.empty()) {
    const std::string path = SweepRecord::PathFor(workspace, sweep_id);
    if (absl::Status saved = sweep->Save(path); !saved.ok()) return saved;
  }
  return outcome;
}

}  // namespace mlcube
