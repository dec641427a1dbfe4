#include "controller/remote/remote_sweep.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "controller/sweeps/host_dispatcher.h"
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
    case SweepEnd::kOutputsMissing:  // as for `run`, whose failed pull is an agent error
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
// The request of one run: the sweep's request with the run's overrides and
// its own metrics file (the sweep's --metrics inside the run's outputs), so
// the agent can return that file's tail while the run goes on.
mlcube_remote::v1::SubmitJobRequest RunRequest(const RemoteRunRequest& request,
                                               const std::string& metrics_path,
                                               const RunPlan& plan) {
  mlcube_remote::v1::SubmitJobRequest submit = request.submit;
  for (const std::string& assignment : plan.overrides) {
    const size_t eq = assignment.find('=');
    (*submit.mutable_overrides())[assignment.substr(0, eq)] = assignment.substr(eq + 1);
  }
  if (!metrics_path.empty()) {
    submit.set_metrics_path(absl::StrCat(plan.run_dir, "/", metrics_path));
  }
  submit.set_client_request_id(absl::StrCat("sweep-", plan.run_dir));
  return submit;
}

// With `several` hosts, a submission that cannot reach its host returns
// UNAVAILABLE at once (SweepRunner then sends the run elsewhere), and one
// left unanswered for 10 s DEADLINE_EXCEEDED (the run is LOST with its
// host), instead of waiting for the host to come back.
absl::StatusOr<Job> SubmitToOneOfSeveral(AgentConnection& agent,
                                         const mlcube_remote::v1::SubmitJobRequest& submit,
                                         const Console& console) {
  Job job;
  auto rpc = AgentConnection::Context(std::chrono::seconds(10));
  grpc::Status status = agent.jobs().SubmitJob(rpc.get(), submit, &job);
  if (status.ok()) return job;
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::Status(
        static_cast<absl::StatusCode>(status.error_code()),
        absl::StrCat("submitting to ", agent.Describe(), ": ", status.error_message()));
  }
  return SubmitWithRetry(agent, submit, console);
}

void AddJobHooks(AgentConnection& agent, const RemoteRunRequest& request, bool several,
                 const std::string& metrics_path, const Console& console, SweepHooks* hooks) {
  hooks->submit = [&agent, &request, &console, several, metrics_path](
                      const RunRecord& run, const RunPlan& plan) -> absl::StatusOr<Job> {
    const mlcube_remote::v1::SubmitJobRequest submit = RunRequest(request, metrics_path, plan);
    if (several) return SubmitToOneOfSeveral(agent, submit, console);
    return SubmitWithRetry(agent, submit, console);
  };
  // One call for the whole sweep (one Slurm job array on a Slurm host); the
  // runner uses it only when the sweep has one host.
  hooks->submit_all = [&agent, &request, &console, metrics_path](const std::vector<RunRecord>& runs,
                                                                 const std::vector<RunPlan>& plans,
                                                                 int parallel) {
    mlcube_remote::v1::SubmitJobsRequest batch;
    for (const RunPlan& plan : plans) *batch.add_runs() = RunRequest(request, metrics_path, plan);
    batch.set_parallel(parallel);
    return SubmitJobsWithRetry(agent, batch, console);
  };
  // The metrics tail each job last sent: the agent then sends it again only
  // when the file changed.
  // job id -> {file_size, modified_unix_ms}
  auto seen = std::make_shared<std::map<std::string, std::pair<int64_t, int64_t>>>();
  hooks->get = [&agent, seen](const std::string& job_id) -> absl::StatusOr<Job> {
    mlcube_remote::v1::GetJobRequest get;
    get.set_job_id(job_id);
    auto known = seen->find(job_id);
    if (known != seen->end()) {
      get.set_metrics_seen_size(known->second.first);
      get.set_metrics_seen_modified_unix_ms(known->second.second);
    }
    Job job;
    auto rpc = AgentConnection::Context(std::chrono::seconds(10));
    grpc::Status status = agent.jobs().GetJob(rpc.get(), get, &job);
    if (!status.ok()) return Unavailable(job_id, status);
    if (job.has_metrics() && !job.metrics().data().empty()) {
      (*seen)[job_id] = {job.metrics().file_size(), job.metrics().modified_unix_ms()};
    }
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

// Brings a finished run's outputs from its host into its own place.
std::function<absl::Status(const RunRecord&, const RunPlan&)> PullHook(
    SyncClient& sync, const RemoteRunRequest& request, const Console& console) {
  return [&sync, &request, &console](const RunRecord& run, const RunPlan& plan) -> absl::Status {
    if (plan.output_paths.empty()) return absl::OkStatus();
    PullOptions pull;
    pull.cube_root = request.cube->root;
    pull.workspace = request.cube->workspace;
    pull.cube_id = request.submit.cube_id();
    pull.paths = plan.output_paths;
    pull.job_id = run.job_id;
    pull.skip_missing = true;  // a failed run may not have written them all
    absl::StatusOr<PullStats> pulled = sync.Pull(pull);
    if (!pulled.ok()) return pulled.status();
    for (const std::string& warning : pulled->warnings) {
      console.Warning(absl::StrCat("run ", run.id, ": ", warning));
    }
    return absl::OkStatus();
  };
}

// How many runs the host takes at once (HostDispatcher::Capacity); 0 when
// its agent does not say.
int CapacityOf(const SweepHost& host) {
  mlcube_remote::v1::AgentInfo info;
  auto rpc = AgentConnection::Context(std::chrono::seconds(10));
  if (!host.agent->agent().GetInfo(rpc.get(), mlcube_remote::v1::GetInfoRequest(), &info).ok()) {
    return 0;
  }
  mlcube_remote::v1::ListJobsResponse jobs;
  auto list = AgentConnection::Context(std::chrono::seconds(10));
  const bool listed =
      host.agent->jobs().ListJobs(list.get(), mlcube_remote::v1::ListJobsRequest(), &jobs).ok();
  const RemoteRunRequest& request = host.request;
  // As CheckGpusOnHost: the cube's accelerator_count asks for GPUs on every
  // runtime (Apptainer gets --nv for it).
  const int per_run =
      HostDispatcher::GpusPerRun(request.submit.gpus(), request.cube->accelerator_count);
  // An agent that hands out GPUs says how many no job holds: other jobs'
  // devices are not this sweep's to count on (at least one run's worth: the
  // agent queues it until they free up).
  const int gpus = info.gpus_allocated() && info.gpus_size() > 0
                       ? std::max(info.gpus_free(), std::max(1, per_run))
                       : info.gpus_size();
  return HostDispatcher::Capacity(gpus, per_run, info.limit_running_jobs(),
                                  listed ? jobs.jobs_size() : 0);
}

// The GPU check and the push on each host. One host: its failure ends the
// sweep (*exit_status). Several: a host that fails is left out with a
// warning, unless the cube itself is at fault (INVALID_ARGUMENT).
std::vector<SweepHost> PrepareHosts(std::vector<SweepHost> hosts, InterruptMonitor& interrupts,
                                    const Console& console, int* exit_status) {
  const bool several = hosts.size() > 1;
  std::vector<SweepHost> ready;
  bool only_gpu_problems = true;  // then the request is at fault, not the hosts
  for (SweepHost& host : hosts) {
    absl::Status status = CheckGpusOnHost(*host.agent, host.request);
    const bool gpu_problem = !status.ok();
    if (status.ok()) status = PushForJob(*host.agent, host.request, interrupts, console);
    if (status.ok()) {
      ready.push_back(std::move(host));
      continue;
    }
    if (several && (gpu_problem || status.code() != absl::StatusCode::kInvalidArgument)) {
      console.Warning(
          absl::StrCat(host.request.host_name, " is left out of the sweep: ", status.message()));
      only_gpu_problems = only_gpu_problems && gpu_problem;
      continue;
    }
    console.Error(status.message());
    *exit_status = gpu_problem || status.code() == absl::StatusCode::kInvalidArgument
                       ? kExitBadInput
                       : kExitAgentError;
    return {};
  }
  if (ready.empty()) {
    console.Error("no host of the sweep could take it (see the warnings above)");
    *exit_status = only_gpu_problems ? kExitBadInput : kExitAgentError;
  }
  return ready;
}

std::string Describe(const std::vector<SweepLane>& lanes) {
  std::vector<std::string> parts;
  for (const SweepLane& lane : lanes) {
    parts.push_back(lane.capacity > 0 || lanes.size() > 1
                        ? absl::StrCat(lane.host, " (",
                                       lane.capacity > 0 ? absl::StrCat(lane.capacity) : "?", ")")
                        : lane.host);
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace

int RunRemoteSweep(std::vector<SweepHost> hosts, PreparedSweep* sweep, InterruptMonitor& interrupts,
                   const Console& console) {
  const bool several = hosts.size() > 1;
  int exit_status = kExitOk;
  // Built before the lanes: their hooks hold references into it.
  const std::vector<SweepHost> ready =
      PrepareHosts(std::move(hosts), interrupts, console, &exit_status);
  if (ready.empty()) return exit_status;
  const RemoteRunRequest& first = ready.front().request;
  const Cube& cube = *first.cube;
  ScanCache cache = ScanCache::Load(ScanCache::DefaultFileFor(cube.root));
  std::vector<std::unique_ptr<SyncClient>> syncs;
  std::vector<SweepLane> lanes;
  for (const SweepHost& host : ready) {
    SweepLane lane;
    lane.host = host.request.host_name;
    lane.capacity = several ? CapacityOf(host) : 0;
    AddJobHooks(*host.agent, host.request, several, sweep->record.metrics_path, console,
                &lane.hooks);
    syncs.push_back(std::make_unique<SyncClient>(host.agent->channel(), &cache));
    if (!first.no_pull) lane.hooks.pull = PullHook(*syncs.back(), host.request, console);
    lanes.push_back(std::move(lane));
  }
  if (!several) {
    for (RunRecord& run : sweep->record.runs) run.host = first.host_name;
  }
  lanes.front().hooks.interrupted = [&interrupts] { return interrupts.count() > 0; };
  lanes.front().hooks.confirm_cancel = [&interrupts] {
    return interrupts.WaitForMore(1, std::chrono::seconds(3));
  };
  SweepRunnerOptions options;
  options.parallel = sweep->parallel;
  options.detach = first.detach;
  options.interactive = ::isatty(STDERR_FILENO) == 1;
  options.workspace = cube.workspace;
  console.Info(absl::StrFormat("sweep %s: %d runs of %s on %s, %d at a time; record: %s",
                               sweep->record.id, sweep->record.runs.size(), sweep->record.cube,
                               Describe(lanes), sweep->parallel,
                               SweepRecord::PathFor(cube.workspace, sweep->record.id)));
  SweepRunner runner(std::move(lanes), options, &console, stderr);
  const SweepEnd end = runner.Run(&sweep->record, sweep->plans);
  if (first.detach) std::printf("%s\n", sweep->record.id.c_str());
  return ExitCodeFor(end, sweep->record, first.detach);
}

int RunRemoteSweep(AgentConnection& agent, RemoteRunRequest request, PreparedSweep* sweep,
                   InterruptMonitor& interrupts, const Console& console) {
  std::vector<SweepHost> hosts(1);
  hosts[0].agent = &agent;
  hosts[0].request = std::move(request);
  return RunRemoteSweep(std::move(hosts), sweep, interrupts, console);
}

}  // namespace mlcube
