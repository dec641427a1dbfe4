#include "controller/remote/remote_sweep.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "controller/sweeps/sweep_runner.h"
#include "controller/sync/scan_cache.h"
#include "controller/sync/sync_client.h"
#include "controller/terminal/exit_codes.h"

namespace mlcube {
namespace {

using mlcube_remote::v1::Job;

absl::Status Unavailable(const std::string& job_id, const grpc::Status& status) {
  return absl::UnavailableError(absl::StrCat("job ", job_id, ": ", status.error_message()));
}

// Reads a job's log from *offset to its current end (not following) and
// returns its last non-empty line, partial or not.
absl::StatusOr<std::string> LastLogLine(AgentConnection& agent, const std::string& job_id,
                                        int64_t* offset) {
  mlcube_remote::v1::WatchJobRequest request;
  request.set_job_id(job_id);
  request.set_from_offset(*offset);
  request.set_follow(false);
  auto rpc = AgentConnection::Context(std::chrono::seconds(5));
  std::unique_ptr<grpc::ClientReader<mlcube_remote::v1::JobEvent>> reader =
      agent.jobs().WatchJob(rpc.get(), request);
  mlcube_remote::v1::JobEvent event;
  std::string last;
  while (reader->Read(&event)) {
    *offset = event.next_offset();
    if (!event.has_log()) continue;
    for (absl::string_view piece : absl::StrSplit(event.log().data(), absl::ByAnyChar("\r\n"))) {
      if (!absl::StripAsciiWhitespace(piece).empty()) last = std::string(piece);
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return Unavailable(job_id, status);
  return last;
}

int ExitCodeFor(SweepEnd end, const SweepRecord& record, bool detach) {
  switch (end) {
    case SweepEnd::kAllSucceeded:
      return kExitOk;
    case SweepEnd::kDetached:
      return detach ? kExitOk : kExitCancelled;
    case SweepEnd::kCancelled:
      return kExitCancelled;
    case SweepEnd::kAgentError:
    case SweepEnd::kNotSubmitted:
      return kExitAgentError;
    case SweepEnd::kSomeFailed:
      break;
  }
  for (const RunRecord& run : record.runs) {
    if (run.state == "CANCELLED") return kExitCancelled;
    if (run.state != "SUCCEEDED") return run.exit_code != 0 ? run.exit_code : 1;
  }
  return 1;
}

// The agent-side calls of SweepRunner: submit, state, cancel, log tail.
// `metrics_path` (the sweep's --metrics, inside a run's outputs) is sent
// as each run's own file, so the agent can return its tail while it runs.
void AddJobHooks(AgentConnection& agent, const RemoteRunRequest& request,
                 const std::string& metrics_path, const Console& console, SweepHooks* hooks) {
  hooks->submit = [&agent, &request, &console, metrics_path](
                      const RunRecord& run, const RunPlan& plan) -> absl::StatusOr<Job> {
    mlcube_remote::v1::SubmitJobRequest submit = request.submit;
    for (const std::string& assignment : plan.overrides) {
      const size_t eq = assignment.find('=');
      (*submit.mutable_overrides())[assignment.substr(0, eq)] = assignment.substr(eq + 1);
    }
    if (!metrics_path.empty())
      submit.set_metrics_path(absl::StrCat(plan.run_dir, "/", metrics_path));
    submit.set_client_request_id(absl::StrCat("sweep-", plan.run_dir));
    return SubmitWithRetry(agent, submit, console);
  };
  hooks->get = [&agent](const std::string& job_id) -> absl::StatusOr<Job> {
    mlcube_remote::v1::GetJobRequest get;
    get.set_job_id(job_id);
    Job job;
    auto rpc = AgentConnection::Context(std::chrono::seconds(10));
    grpc::Status status = agent.jobs().GetJob(rpc.get(), get, &job);
    if (!status.ok()) return Unavailable(job_id, status);
    return job;
  };
  hooks->cancel = [&agent](const std::string& job_id) -> absl::StatusOr<Job> {
    mlcube_remote::v1::CancelJobRequest cancel;
    cancel.set_job_id(job_id);
    Job job;
    auto rpc = AgentConnection::Context(std::chrono::seconds(30));
    grpc::Status status = agent.jobs().CancelJob(rpc.get(), cancel, &job);
    if (!status.ok()) return Unavailable(job_id, status);
    return job;
  };
  hooks->tail = [&agent](const std::string& job_id, int64_t* offset) {
    return LastLogLine(agent, job_id, offset);
  };
}

}  // namespace

int RunRemoteSweep(AgentConnection& agent, RemoteRunRequest request, PreparedSweep* sweep,
                   InterruptMonitor& interrupts, const Console& console) {
  if (absl::Status s = CheckGpusOnHost(agent, request); !s.ok()) {
    console.Error(s.message());
    return kExitBadInput;
  }
  if (absl::Status s = PushForJob(agent, request, interrupts, console); !s.ok()) {
    console.Error(s.message());
    return s.code() == absl::StatusCode::kInvalidArgument ? kExitBadInput : kExitAgentError;
  }
  for (RunRecord& run : sweep->record.runs) run.host = request.host_name;
  SweepHooks hooks;
  AddJobHooks(agent, request, sweep->record.metrics_path, console, &hooks);
  const Cube& cube = *request.cube;
  ScanCache cache = ScanCache::Load(ScanCache::DefaultFileFor(cube.root));
  SyncClient sync(agent.channel(), &cache);
  if (!request.no_pull) {
    hooks.pull = [&](const RunRecord& run, const RunPlan& plan) -> absl::Status {
      if (plan.output_paths.empty()) return absl::OkStatus();
      PullOptions pull;
      pull.cube_root = cube.root;
      pull.workspace = cube.workspace;
      pull.cube_id = request.submit.cube_id();
      pull.paths = plan.output_paths;
      pull.job_id = run.job_id;
      pull.skip_missing = true;  // a failed run may not have written them all
      return sync.Pull(pull).status();
    };
  }
  hooks.interrupted = [&interrupts] { return interrupts.count() > 0; };
  hooks.confirm_cancel = [&interrupts] {
    return interrupts.WaitForMore(1, std::chrono::seconds(3));
  };
  SweepRunnerOptions options;
  options.parallel = sweep->parallel;
  options.detach = request.detach;
  options.interactive = ::isatty(STDERR_FILENO) == 1;
  options.workspace = cube.workspace;
  console.Info(absl::StrFormat("sweep %s: %d runs of %s on %s, %d at a time; record: %s",
                               sweep->record.id, sweep->record.runs.size(), sweep->record.cube,
                               request.host_name, sweep->parallel,
                               SweepRecord::PathFor(cube.workspace, sweep->record.id)));
  SweepRunner runner(std::move(hooks), options, &console, stderr);
  const SweepEnd end = runner.Run(&sweep->record, sweep->plans);
  if (request.detach) std::printf("%s\n", sweep->record.id.c_str());
  return ExitCodeFor(end, sweep->record, request.detach);
}

}  // namespace mlcube
