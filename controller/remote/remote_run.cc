#include "controller/remote/remote_run.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/cube_loader.h"
#include "controller/remote/cube_push.h"
#include "controller/remote/job_watcher.h"
#include "controller/sync/job_outputs_record.h"
#include "controller/sync/scan_cache.h"
#include "controller/sync/sync_client.h"
#include "controller/terminal/exit_codes.h"
#include "controller/terminal/progress_reporter.h"

namespace mlcube {
namespace {

using mlcube_remote::v1::Job;
using mlcube_remote::v1::JobPlan;

std::string RandomRequestId() {
  std::random_device device;
  std::uniform_int_distribution<uint32_t> digits(0, 0xffffffff);
  return absl::StrFormat("%08x%08x%08x", digits(device), digits(device), digits(device));
}

int ExitForStatus(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument ||
                 status.code() == absl::StatusCode::kNotFound ||
                 status.code() == absl::StatusCode::kFailedPrecondition
             ? kExitBadInput
             : kExitAgentError;
}

int Fail(const Console& console, const absl::Status& status) {
  console.Error(status.message());
  return ExitForStatus(status);
}

// Ctrl-C while files move stops at once: nothing has started on the host and
// every file lands atomically (the next push or pull resumes).
void ExitOnInterrupt(InterruptMonitor& interrupts) {
  interrupts.SetCallback([](int) {
    static const char kMessage[] =
        "\nmlcube-remote: interrupted while syncing; no job was started by this step\n";
    // Discarded on purpose: a signal handler about to exit can do nothing
    // about a failed write.
    (void)!::write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
    ::_exit(kExitCancelled);
  });
}

// After Ctrl-C: detach (the job goes on) or cancel it.
int DetachOrCancel(AgentConnection& agent, const RemoteRunRequest& request, const Job& job,
                   InterruptMonitor& interrupts, const Console& console) {
  const std::string reattach =
      absl::StrCat("mlcube-remote logs -f --host=", request.host_name, " ", job.id());
  bool cancel = request.cancel_on_interrupt;
  if (!cancel) {
    console.Info(absl::StrCat("detached from job ", job.id(),
                              "; press Ctrl-C again within 3 s to cancel it"));
    cancel = interrupts.WaitForMore(interrupts.count(), std::chrono::seconds(3));
  }
  if (!cancel) {
    console.Info(absl::StrCat("job ", job.id(), " goes on; re-attach with: ", reattach));
    return kExitCancelled;
  }
  mlcube_remote::v1::CancelJobRequest cancel_request;
  cancel_request.set_job_id(job.id());
  Job cancelled;
  auto context = AgentConnection::Context(std::chrono::seconds(30));
  grpc::Status status = agent.jobs().CancelJob(context.get(), cancel_request, &cancelled);
  if (!status.ok()) {
    console.Error(absl::StrCat("cancelling job ", job.id(), ": ", status.error_message()));
    return kExitAgentError;
  }
  console.Info(absl::StrCat("cancelled job ", job.id()));
  return kExitCancelled;
}

void ReportJob(const Job& job, std::chrono::steady_clock::time_point start,
               const Console& console) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (job.state() == mlcube_remote::v1::JOB_STATE_SUCCEEDED) {
    console.Info(absl::StrFormat("job %s succeeded in %.1f s", job.id(), seconds));
    return;
  }
  console.Error(absl::StrFormat(
      "job %s %s%s%s%s", job.id(), JobStateName(job.state()), job.reason().empty() ? "" : ": ",
      job.reason(),
      job.exit_code() == 0 ? "" : absl::StrCat(" (exit code ", job.exit_code(), ")")));
}

void PrintPlanText(const JobPlan& plan) {
  std::printf("cube root on the host: %s\n", plan.cube_root().c_str());
  for (const auto& step : plan.steps()) {
    std::printf("\n%s%s\n", step.kind().c_str(),
                step.task().empty() ? "" : absl::StrCat(" ", step.task()).c_str());
    for (const std::string& dir : step.creates()) std::printf("  mkdir -p %s\n", dir.c_str());
    if (!step.error().empty()) std::printf("  (not planned yet: %s)\n", step.error().c_str());
    if (!step.cwd().empty()) std::printf("  cd %s\n", step.cwd().c_str());
    if (step.argv_size() > 0) std::printf("  %s\n", absl::StrJoin(step.argv(), " ").c_str());
    for (const std::string& env : step.env()) std::printf("  environment: %s\n", env.c_str());
  }
}

}  // namespace

// Where the job may write here: the outputs of the tasks this controller
// submits, as its own copy of the cube (loaded with the run's -P) names them.
std::vector<std::string> ExpectedOutputs(const RemoteRunRequest& request) {
  return WorkspaceOutputPaths(
      *request.cube,
      std::vector<std::string>(request.submit.tasks().begin(), request.submit.tasks().end()));
}

// The job's outputs, as the agent lists them for the job, placed only where
// ExpectedOutputs says; also after a failure (logs are outputs too).
absl::Status PullOutputs(AgentConnection& agent, const RemoteRunRequest& request, const Job& job,
                         InterruptMonitor& interrupts, const Console& console) {
  const Cube& cube = *request.cube;
  ScanCache cache = ScanCache::Load(ScanCache::DefaultFileFor(cube.root));
  SyncClient sync(agent.channel(), &cache);
  PullOptions pull;
  pull.cube_root = cube.root;
  pull.workspace = cube.workspace;
  pull.cube_id = request.submit.cube_id();
  pull.job_id = job.id();
  pull.outputs = ExpectedOutputs(request);
  pull.skip_missing = true;  // a failed task may not have written them all
  pull.show_progress = console.verbosity() != Verbosity::kQuiet;
  pull.interactive = ::isatty(STDERR_FILENO) == 1;
  ExitOnInterrupt(interrupts);
  absl::StatusOr<PullStats> pulled = sync.Pull(pull);
  interrupts.SetCallback(nullptr);
  if (!pulled.ok() && pulled.status().code() == absl::StatusCode::kNotFound &&
      absl::StrContains(pulled.status().message(), "has no outputs")) {
    return absl::OkStatus();
  }
  if (!pulled.ok()) {
    return absl::Status(
        pulled.status().code(),
        absl::StrCat("pulling outputs from ", agent.Describe(), ": ", pulled.status().message()));
  }
  for (const std::string& warning : pulled->warnings) console.Warning(warning);
  for (const std::string& conflict : pulled->conflicts) {
    console.Warning(absl::StrCat("kept your ", conflict,
                                 ": it changed since the last sync; the host's version is in ",
                                 conflict, ".remote"));
  }
  console.Info(absl::StrFormat("outputs in %s: %d files updated, %s", cube.workspace,
                               pulled->files_written,
                               ProgressReporter::HumanBytes(pulled->bytes_received)));
  return absl::OkStatus();
}

// A job that asks for GPUs on a host without any fails before anything
// moves; the message names what asked and how to run without.
absl::Status CheckGpusOnHost(AgentConnection& agent, const RemoteRunRequest& request) {
  const Cube& cube = *request.cube;
  const std::string& gpus = request.submit.gpus();
  if (gpus.empty() && cube.accelerator_count == 0) return absl::OkStatus();
  mlcube_remote::v1::AgentInfo info;
  auto context = AgentConnection::Context(std::chrono::seconds(30));
  grpc::Status status =
      agent.agent().GetInfo(context.get(), mlcube_remote::v1::GetInfoRequest(), &info);
  if (!status.ok() || info.gpus_size() > 0) return absl::OkStatus();  // the push reports it
  if (!gpus.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("--gpus ", gpus, " asks for GPUs and ", request.host_name, " has none"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat(cube.config_file, ": platform.accelerator_count: ", cube.accelerator_count,
                   " asks for GPUs and ", request.host_name,
                   " has none; run with -P platform.accelerator_count=0 to run without"));
}

// Pushes the cube and, when a build may need it, its outside build context;
// fills in the ids of both trees.
absl::Status PushForJob(AgentConnection& agent, RemoteRunRequest& request,
                        InterruptMonitor& interrupts, const Console& console) {
  const Cube& cube = *request.cube;
  const std::string cube_id = SyncClient::DefaultCubeId(cube.root);
  ScanCache cache = ScanCache::Load(ScanCache::DefaultFileFor(cube.root));
  SyncClient sync(agent.channel(), &cache);
  CubePushRequest push;
  push.cube = &cube;
  push.cube_id = cube_id;
  push.exclude = request.exclude;
  push.sync_features = request.sync_features;
  BuildContextPushRequest context;
  context.cube = &cube;
  context.docker_build = request.submit.runtime() != mlcube_remote::v1::RUNTIME_SINGULARITY;
  context.exclude = request.exclude;
  context.sync_features = request.sync_features;
  InputTreesPushRequest inputs;
  inputs.cube = &cube;
  inputs.tasks.assign(request.submit.tasks().begin(), request.submit.tasks().end());
  inputs.exclude = request.exclude;
  inputs.sync_features = request.sync_features;
  ExitOnInterrupt(interrupts);
  // The context and the repository's inputs first: one that cannot be read
  // here stops us before the cube moves.
  absl::StatusOr<std::string> context_id = PushBuildContext(agent.channel(), context, console);
  absl::StatusOr<std::map<std::string, std::string>> trees = absl::CancelledError("not pushed");
  if (context_id.ok()) trees = PushInputTrees(agent.channel(), inputs, console);
  absl::StatusOr<PushStats> pushed = absl::CancelledError("not pushed");
  if (context_id.ok() && trees.ok()) pushed = PushCube(sync, push, console);
  interrupts.SetCallback(nullptr);
  if (!context_id.ok()) return context_id.status();
  if (!trees.ok()) return trees.status();
  if (!pushed.ok()) {
    return absl::Status(pushed.status().code(), absl::StrCat("push to ", agent.Describe(), ": ",
                                                             pushed.status().message()));
  }
  console.Info(absl::StrFormat("synced %s to %s: %d files, %s sent, %s already there", cube.name,
                               request.host_name, pushed->files_scanned,
                               ProgressReporter::HumanBytes(pushed->bytes_sent),
                               ProgressReporter::HumanBytes(pushed->bytes_deduplicated)));
  request.submit.set_cube_id(cube_id);
  request.submit.set_build_context_id(*context_id);
  request.submit.mutable_input_trees()->clear();
  for (const auto& [dir, id] : *trees) (*request.submit.mutable_input_trees())[dir] = id;
  return absl::OkStatus();
}

namespace {

// Calls `call(context)` until it succeeds, fails for good or 5 retries of
// transient errors have passed. The client_request_id makes a retry return
// what a lost reply described instead of submitting again.
template <typename Call>
absl::Status CallWithRetry(AgentConnection& connection, const Console& console, Call call) {
  std::chrono::milliseconds backoff(200);
  for (int attempt = 0;; ++attempt) {
    auto context = AgentConnection::Context(std::chrono::seconds(60));
    context->set_wait_for_ready(attempt > 0);
    grpc::Status status = call(context.get());
    if (status.ok()) return absl::OkStatus();
    if (!IsTransient(status) || attempt >= 5) {
      return absl::Status(
          static_cast<absl::StatusCode>(status.error_code()),
          absl::StrCat("submitting to ", connection.Describe(), ": ", status.error_message()));
    }
    console.Verbose(absl::StrCat("submit failed (", status.error_message(), "), retrying"));
    std::this_thread::sleep_for(backoff);
    backoff *= 2;
  }
}

}  // namespace

absl::StatusOr<Job> SubmitWithRetry(AgentConnection& connection,
                                    const mlcube_remote::v1::SubmitJobRequest& request,
                                    const Console& console) {
  Job job;
  absl::Status status = CallWithRetry(connection, console, [&](grpc::ClientContext* context) {
    return connection.jobs().SubmitJob(context, request, &job);
  });
  if (!status.ok()) return status;
  return job;
}

absl::StatusOr<std::vector<Job>> SubmitJobsWithRetry(
    AgentConnection& connection, const mlcube_remote::v1::SubmitJobsRequest& request,
    const Console& console) {
  mlcube_remote::v1::SubmitJobsResponse response;
  absl::Status status = CallWithRetry(connection, console, [&](grpc::ClientContext* context) {
    return connection.jobs().SubmitJobs(context, request, &response);
  });
  if (!status.ok()) return status;
  if (response.jobs_size() != request.runs_size()) {
    return absl::InternalError(absl::StrCat("the agent accepted ", response.jobs_size(), " of ",
                                            request.runs_size(), " runs"));
  }
  return std::vector<Job>(response.jobs().begin(), response.jobs().end());
}

absl::StatusOr<std::string> PlanToJson(const JobPlan& plan) {
  google::protobuf::Value root;
  auto& fields = *root.mutable_struct_value()->mutable_fields();
  fields["cube_root"].set_string_value(plan.cube_root());
  auto* steps = fields["steps"].mutable_list_value();
  for (const auto& step : plan.steps()) {
    auto& out = *steps->add_values()->mutable_struct_value()->mutable_fields();
    out["kind"].set_string_value(step.kind());
    if (step.task().empty()) {
      out["task"].set_null_value(google::protobuf::NULL_VALUE);
    } else {
      out["task"].set_string_value(step.task());
    }
    auto* argv = out["argv"].mutable_list_value();
    for (const std::string& arg : step.argv()) argv->add_values()->set_string_value(arg);
    auto* creates = out["creates"].mutable_list_value();
    for (const std::string& dir : step.creates()) creates->add_values()->set_string_value(dir);
    if (step.env_size() > 0) {
      auto* env = out["env"].mutable_list_value();
      for (const std::string& entry : step.env()) env->add_values()->set_string_value(entry);
    }
    if (!step.error().empty()) out["error"].set_string_value(step.error());
    if (!step.cwd().empty()) out["cwd"].set_string_value(step.cwd());
  }
  auto* warnings = fields["warnings"].mutable_list_value();
  for (const std::string& w : plan.warnings()) warnings->add_values()->set_string_value(w);
  std::string json;
  const auto converted = google::protobuf::util::MessageToJsonString(root, &json);
  if (!converted.ok()) {
    return absl::InternalError(
        absl::StrCat("the plan does not convert to JSON: ",
                     std::string(converted.message().data(), converted.message().size())));
  }
  return json;
}

int PlanRemoteJob(AgentConnection& agent, RemoteRunRequest request, InterruptMonitor& interrupts,
                  const Console& console) {
  if (absl::Status s = CheckGpusOnHost(agent, request); !s.ok()) console.Warning(s.message());
  if (absl::Status s = PushForJob(agent, request, interrupts, console); !s.ok()) {
    return Fail(console, s);
  }
  JobPlan plan;
  auto context = AgentConnection::Context(std::chrono::seconds(60));
  grpc::Status status = agent.jobs().PlanJob(context.get(), request.submit, &plan);
  if (!status.ok()) {
    return Fail(console, absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                                      absl::StrCat("planning on ", agent.Describe(), ": ",
                                                   status.error_message())));
  }
  for (const std::string& note : plan.notes()) console.Info(note);
  if (request.json) {
    absl::StatusOr<std::string> json = PlanToJson(plan);
    if (!json.ok()) return Fail(console, json.status());
    std::printf("%s\n", json->c_str());
  } else {
    PrintPlanText(plan);
  }
  return kExitOk;
}

int RunRemoteJob(AgentConnection& agent, RemoteRunRequest request, InterruptMonitor& interrupts,
                 const Console& console) {
  const auto start = std::chrono::steady_clock::now();
  if (absl::Status s = CheckGpusOnHost(agent, request); !s.ok()) return Fail(console, s);
  if (absl::Status s = PushForJob(agent, request, interrupts, console); !s.ok()) {
    return Fail(console, s);
  }
  request.submit.set_client_request_id(RandomRequestId());
  absl::StatusOr<Job> job = SubmitWithRetry(agent, request.submit, console);
  if (!job.ok()) return Fail(console, job.status());
  // For a later `sync pull --job`, which may not know this run's -P.
  absl::Status recorded = JobOutputsRecord(JobOutputsRecord::DefaultDir())
                              .Save(request.submit.cube_id(), job->id(), ExpectedOutputs(request));
  if (!recorded.ok()) {
    console.Warning(absl::StrCat("sync pull --job=", job->id(),
                                 " will need this run's -P again: ", recorded.message()));
  }
  const bool configure = request.submit.action() == mlcube_remote::v1::JOB_ACTION_CONFIGURE;
  console.Info(absl::StrCat("job ", job->id(), " on ", request.host_name, ": ",
                            configure ? "configure" : absl::StrJoin(request.submit.tasks(), ","),
                            " (", JobStateName(job->state()), ")"));
  if (request.detach) {
    console.Info(absl::StrCat("detached; follow it with: mlcube-remote logs -f --host=",
                              request.host_name, " ", job->id()));
    std::printf("%s\n", job->id().c_str());
    return kExitOk;
  }
  JobWatcher watcher(&agent, &console, &interrupts);
  WatchOptions watch;
  watch.ranks = request.ranks;
  absl::StatusOr<WatchOutcome> outcome = watcher.Watch(job->id(), watch);
  if (!outcome.ok()) {
    console.Error(outcome.status().message());
    return kExitAgentError;
  }
  if (outcome->interrupted) return DetachOrCancel(agent, request, *job, interrupts, console);
  const Job& final_job = outcome->job;
  const int exit_status = ExitStatusForJob(final_job);
  if (!configure && !request.no_pull &&
      final_job.state() != mlcube_remote::v1::JOB_STATE_CANCELLED) {
    absl::Status pulled = PullOutputs(agent, request, final_job, interrupts, console);
    if (!pulled.ok()) {
      console.Error(pulled.message());
      ReportJob(final_job, start, console);  // what happened to the job matters more
      return exit_status != kExitOk ? exit_status : kExitAgentError;
    }
  }
  ReportJob(final_job, start, console);
  return exit_status;
}

}  // namespace mlcube
