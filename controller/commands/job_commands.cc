#include "controller/commands/job_commands.h"

#include <ctime>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "controller/commands/gang_commands.h"
#include "controller/commands/run_reference.h"
#include "controller/gang/gang_record.h"
#include "controller/hosts/hosts_file.h"
#include "controller/install/agent_connector.h"
#include "controller/remote/job_watcher.h"
#include "controller/sweeps/live_metrics.h"
#include "controller/terminal/exit_codes.h"
#include "controller/terminal/interrupt_monitor.h"
#include "controller/transport/agent_connection.h"

namespace mlcube {
namespace {

using mlcube_remote::v1::Job;

std::unique_ptr<AgentConnection> ConnectToHost(const JobCommandOptions& options,
                                               const Console& console, int* exit_status) {
  absl::StatusOr<HostEntry> host = LoadHost(options.hosts_lookup, options.host);
  if (!host.ok()) {
    console.Error(host.status().message());
    *exit_status = kExitBadInput;
    return nullptr;
  }
  absl::StatusOr<std::unique_ptr<AgentConnection>> connection = ConnectToAgent(*host);
  if (!connection.ok()) {
    console.Error(connection.status().message());
    *exit_status = kExitBadInput;
    return nullptr;
  }
  console.Verbose(RequestIdLine(**connection));
  return std::move(*connection);
}

// `options` with a SWEEP/RUN job replaced by the run's host and job id.
absl::StatusOr<JobCommandOptions> ResolveRun(const JobCommandOptions& options) {
  if (!IsRunReference(options.job_id)) return options;
  absl::StatusOr<RunReference> run = ResolveRunReference(options.job_id, options.cube);
  if (!run.ok()) return run.status();
  if (!options.host.empty() && options.host != run->host) {
    return absl::InvalidArgumentError(
        absl::StrCat("--host=", options.host, ": run ", options.job_id, " ran on ", run->host));
  }
  JobCommandOptions resolved = options;
  resolved.host = run->host;
  resolved.job_id = run->job_id;
  return resolved;
}

// Opens the connection to the selected host, reporting errors itself. A
// SWEEP/RUN job is resolved first (`options` then names its host and job).
std::unique_ptr<AgentConnection> Connect(JobCommandOptions* options, const Console& console,
                                         int* exit_status) {
  absl::StatusOr<JobCommandOptions> resolved = ResolveRun(*options);
  if (!resolved.ok()) {
    console.Error(resolved.status().message());
    *exit_status = kExitBadInput;
    return nullptr;
  }
  *options = std::move(*resolved);
  return ConnectToHost(*options, console, exit_status);
}

// The job's metrics file and its latest values as the agent read them now.
void PrintMetrics(const Job& job, std::ostream& out) {
  if (job.metrics_path().empty()) return;
  out << "metrics file: " << job.metrics_path() << "\n";
  if (!job.metrics().error().empty()) {
    out << "metrics: " << job.metrics().error() << "\n";
    return;
  }
  RunRecord run;
  std::string error;
  if (!LiveMetrics::Apply(job, &run, &error)) {
    out << "metrics: " << (error.empty() ? "none yet" : error) << "\n";
    return;
  }
  std::vector<std::string> values;
  for (const auto& [key, value] : run.metrics) values.push_back(absl::StrCat(key, "=", value));
  out << "metrics: " << absl::StrJoin(values, " ") << "\n";
}

int ReportRpcError(const Console& console, const AgentConnection& connection,
                   const std::string& what, const grpc::Status& status) {
  console.Error(absl::StrCat(what, " on ", connection.Describe(), ": ", status.error_message()));
  return status.error_code() == grpc::StatusCode::NOT_FOUND ||
                 status.error_code() == grpc::StatusCode::INVALID_ARGUMENT
             ? kExitBadInput
             : kExitAgentError;
}

std::string FormatTime(int64_t unix_ms) {
  if (unix_ms <= 0) return "-";
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d %H:%M:%S", &local);
  return buffer;
}

std::string ActionName(const Job& job) {
  return job.action() == mlcube_remote::v1::JOB_ACTION_CONFIGURE ? "configure" : "run";
}

}  // namespace

int RunStatusCommand(const JobCommandOptions& given, const Console& console, std::ostream& out) {
  if (GangRecord::IsId(given.job_id)) return RunGangStatus(given, console, out);

  JobCommandOptions options = given;
  int exit_status = kExitOk;
  std::unique_ptr<AgentConnection> connection = Connect(&options, console, &exit_status);
  if (!connection) return exit_status;
  mlcube_remote::v1::GetJobRequest request;
  request.set_job_id(options.job_id);
  Job job;
  auto context = AgentConnection::Context(std::chrono::seconds(10));
  grpc::Status status = connection->jobs().GetJob(context.get(), request, &job);
  if (!status.ok()) return ReportRpcError(console, *connection, "job " + options.job_id, status);
  out << "job: " << job.id() << "\n"
      << "host: " << connection->host().name << "\n"
      << "state: " << JobStateName(job.state()) << "\n"
      << "action: " << ActionName(job) << "\n"
      << "tasks: " << absl::StrJoin(job.tasks(), ",") << "\n"
      << "cube: " << job.cube_id() << "\n"
      << "owner: " << job.owner() << "\n";
  if (!job.current_task().empty()) out << "current task: " << job.current_task() << "\n";
  if (!job.scheduler().empty() && job.scheduler() != "local") {
    out << "scheduler: " << job.scheduler() << "\n";
  }
  if (!job.scheduler_job_id().empty()) out << "slurm job: " << job.scheduler_job_id() << "\n";
  if (!job.pending_reason().empty()) out << "pending: " << job.pending_reason() << "\n";
  if (!job.scratch_dir().empty()) out << "scratch: " << job.scratch_dir() << "\n";
  if (!job.gpus().empty()) {
    std::vector<std::string> held;
    for (const auto& gpu : job.gpus()) {
      held.push_back(gpu.uuid().empty() ? std::to_string(gpu.index())
                                        : absl::StrCat(gpu.index(), " (", gpu.uuid(), ")"));
    }
    out << "gpus: " << absl::StrJoin(held, ", ") << "\n";
  }
  if (const auto& usage = job.gpu_usage(); usage.samples() > 0) {
    out << absl::StrFormat("gpu use: peak %d%%, mean %.0f%%, peak memory %d MiB (%d samples)\n",
                           usage.peak_utilization_percent(),
                           static_cast<double>(usage.utilization_percent_sum()) / usage.samples(),
                           usage.peak_memory_used_mib(), usage.samples());
  }
  out << "created: " << FormatTime(job.created_unix_ms()) << "\n"
      << "started: " << FormatTime(job.started_unix_ms()) << "\n"
      << "finished: " << FormatTime(job.finished_unix_ms()) << "\n";
  if (job.state() == mlcube_remote::v1::JOB_STATE_FAILED ||
      job.state() == mlcube_remote::v1::JOB_STATE_SUCCEEDED) {
    out << "exit code: " << job.exit_code() << "\n";
  }
  if (!job.reason().empty()) out << "reason: " << job.reason() << "\n";
  out << "log bytes: " << job.log_end_offset() << (job.log_truncated() ? " (truncated)" : "")
      << "\n";
  PrintMetrics(job, out);
  return kExitOk;
}

int RunLogsCommand(const JobCommandOptions& given, const Console& console) {
  if (GangRecord::IsId(given.job_id)) return RunGangLogs(given, console);

  JobCommandOptions options = given;
  WatchOptions watch;
  if (!options.ranks.empty()) {
    absl::StatusOr<std::set<int>> ranks = ParseRankList(options.ranks);
    if (!ranks.ok()) {
      console.Error(ranks.status().message());
      return kExitBadInput;
    }
    watch.ranks = std::move(*ranks);
  }
  InterruptMonitor interrupts;
  int exit_status = kExitOk;
  std::unique_ptr<AgentConnection> connection = Connect(&options, console, &exit_status);
  if (!connection) return exit_status;
  JobWatcher watcher(connection.get(), &console, &interrupts);
  watch.follow = options.follow;
  absl::StatusOr<WatchOutcome> outcome = watcher.Watch(options.job_id, watch);
  if (!outcome.ok()) {
    console.Error(outcome.status().message());
    return outcome.status().code() == absl::StatusCode::kNotFound ? kExitBadInput : kExitAgentError;
  }
  if (outcome->interrupted) {
    console.Info(absl::StrCat("stopped following; job ", options.job_id, " goes on (",
                              JobStateName(outcome->job.state()), ")"));
    return kExitCancelled;
  }
  if (!options.follow) return kExitOk;
  return ExitStatusForJob(outcome->job);
}

int RunCancelCommand(const JobCommandOptions& given, const Console& console, std::ostream& out) {
  if (GangRecord::IsId(given.job_id)) return RunGangCancel(given, console, out);

  JobCommandOptions options = given;
  int exit_status = kExitOk;
  std::unique_ptr<AgentConnection> connection = Connect(&options, console, &exit_status);
  if (!connection) return exit_status;
  mlcube_remote::v1::CancelJobRequest request;
  request.set_job_id(options.job_id);
  Job job;
  auto context = AgentConnection::Context(std::chrono::seconds(30));
  grpc::Status status = connection->jobs().CancelJob(context.get(), request, &job);
  if (!status.ok()) {
    return ReportRpcError(console, *connection, "cancelling job " + options.job_id, status);
  }
  out << job.id() << " " << JobStateName(job.state()) << "\n";
  return kExitOk;
}

int RunRerunCommand(const JobCommandOptions& options, const Console& console, std::ostream& out) {
  if (GangRecord::IsId(options.job_id)) {
    console.Error(absl::StrCat("rerun ", options.job_id,
                               ": a job across hosts is started again with `mlcube-remote run "
                               "--nodes=N --host=...`, which starts every rank or none"));
    return kExitBadInput;
  }
  if (IsRunReference(options.job_id)) {
    console.Error(absl::StrCat("rerun ", options.job_id,
                               ": a sweep's runs are re-run with `mlcube-remote runs SWEEP "
                               "--rerun-failed`, which keeps its record up to date"));
    return kExitBadInput;
  }
  int exit_status = kExitOk;
  std::unique_ptr<AgentConnection> connection = ConnectToHost(options, console, &exit_status);
  if (!connection) return exit_status;
  mlcube_remote::v1::RerunJobRequest request;
  request.set_job_id(options.job_id);
  Job job;
  auto context = AgentConnection::Context(std::chrono::seconds(30));
  grpc::Status status = connection->jobs().RerunJob(context.get(), request, &job);
  if (!status.ok()) {
    return ReportRpcError(console, *connection, "re-running job " + options.job_id, status);
  }
  out << job.id() << " " << JobStateName(job.state()) << "\n";
  console.Info(absl::StrCat("job ", job.id(), " runs what job ", options.job_id,
                            " ran; follow it with: mlcube-remote logs -f ", job.id()));
  return kExitOk;
}

int RunJobsCommand(const JobCommandOptions& options, const Console& console, std::ostream& out) {
  int exit_status = kExitOk;
  std::unique_ptr<AgentConnection> connection = ConnectToHost(options, console, &exit_status);
  if (!connection) return exit_status;
  mlcube_remote::v1::ListJobsRequest request;
  request.set_all(options.all);
  mlcube_remote::v1::ListJobsResponse response;
  auto context = AgentConnection::Context(std::chrono::seconds(10));
  grpc::Status status = connection->jobs().ListJobs(context.get(), request, &response);
  if (!status.ok()) return ReportRpcError(console, *connection, "listing jobs", status);
  out << absl::StrFormat("%-10s %-10s %-9s %-20s %-24s %-19s %s\n", "JOB", "STATE", "ACTION",
                         "TASKS", "CUBE", "CREATED", "EXIT");
  for (const Job& job : response.jobs()) {
    const bool ended = job.state() == mlcube_remote::v1::JOB_STATE_SUCCEEDED ||
                       job.state() == mlcube_remote::v1::JOB_STATE_FAILED;
    std::string slurm;
    if (!job.scheduler_job_id().empty()) {
      slurm = absl::StrCat("  slurm ", job.scheduler_job_id());
      if (!job.pending_reason().empty())
        absl::StrAppend(&slurm, " pending (", job.pending_reason(), ")");
    }
    if (!job.gpus().empty()) {
      absl::StrAppend(&slurm, "  gpus ",
                      absl::StrJoin(job.gpus(), ",", [](std::string* out, const auto& gpu) {
                        absl::StrAppend(out, gpu.index());
                      }));
    }
    out << absl::StrFormat(
        "%-10s %-10s %-9s %-20s %-24s %-19s %s%s\n", job.id(), JobStateName(job.state()),
        ActionName(job), absl::StrJoin(job.tasks(), ","), job.cube_id(),
        FormatTime(job.created_unix_ms()), ended ? std::to_string(job.exit_code()) : "-", slurm);
  }
  if (options.all && !response.retention().empty()) {
    out << absl::StrFormat("%d finished job%s removed by the agent since it started; %s\n",
                           response.pruned_jobs(), response.pruned_jobs() == 1 ? " was" : "s were",
                           response.retention());
  }
  return kExitOk;
}

}  // namespace mlcube
