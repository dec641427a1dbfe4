#include "controller/commands/run_sweep.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <ctime>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/safe_path.h"
#include "controller/sweeps/sweep_runner.h"
#include "controller/sweeps/sweep_spec.h"
#include "controller/terminal/exit_codes.h"

namespace mlcube {
namespace {

using mlcube_remote::v1::Job;

// "20261125-163200-3fa9": sorts by time, unique enough for one workspace.
std::string NewSweepId() {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  ::localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &local);
  std::random_device device;
  return absl::StrFormat("%s-%04x", stamp, device() & 0xffff);
}

absl::Status CheckMetricsPath(const std::string& path) {
  if (path.empty()) return absl::OkStatus();
  if (!ValidateRelativePath(path).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics=", path, ": expected a workspace-relative path inside one of the outputs"));
  }
  return absl::OkStatus();
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
  if (!status.ok()) return absl::UnavailableError(status.error_message());
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

}  // namespace

void AddSweepOptions(CLI::App* command, SweepOptions* options) {
  command
      ->add_option("--sweep", options->axes,
                   "Sweep axis: PARAM:key.path=v1,v2 (a key in the YAML/JSON file of input "
                   "PARAM) or -P:key.path=v1,v2; several axes form a grid")
      ->take_all();
  command->add_option("--sweep-file", options->sweep_file,
                      "YAML list of explicit points, {\"PARAM:key.path\": value, ...}");
  command->add_option("--repeat", options->repeat, "Run each point N times (${run.index})");
  command->add_option("--parallel", options->parallel, "Runs at a time on the agent (default 1)")
      ->check(CLI::Range(1, 1000));
  command->add_option("--metrics", options->metrics,
                      "Metrics file the task writes (workspace-relative; YAML/JSON or .jsonl)");
}

std::vector<std::string> SweepLoadOverrides(const SweepOptions& options) {
  if (options.axes.empty() && options.sweep_file.empty() && options.repeat == 1) return {};
  return {"run.index=0", "run.repetition=0", "run.id=r000", "run.sweep=checking"};
}

absl::StatusOr<std::optional<PreparedSweep>> PrepareSweep(const SweepOptions& options,
                                                          const Cube& cube,
                                                          const std::vector<std::string>& tasks,
                                                          const Console& console) {
  absl::StatusOr<SweepSpec> spec =
      SweepSpec::Parse(options.axes, options.sweep_file, options.repeat);
  if (!spec.ok()) return spec.status();
  if (spec->empty()) {
    if (!options.metrics.empty()) {
      return absl::InvalidArgumentError(
          "--metrics needs a sweep (--sweep, --sweep-file or "
          "--repeat)");
    }
    return std::nullopt;
  }
  if (absl::Status valid = spec->Validate(cube, tasks); !valid.ok()) return valid;
  if (absl::Status metrics = CheckMetricsPath(options.metrics); !metrics.ok()) return metrics;
  PreparedSweep sweep;
  SweepRecord& record = sweep.record;
  record.id = NewSweepId();
  record.cube = cube.name;
  record.tasks = tasks;
  record.axes = spec->Labels();
  record.created_unix_ms = NowUnixMs();
  record.metrics_path = options.metrics;
  RunInputs inputs(&cube, tasks, record.id);
  for (const SweepRunSpec& run : spec->Runs()) {
    absl::StatusOr<RunPlan> plan = inputs.Prepare(run);
    if (!plan.ok()) return plan.status();
    if (run.index == 0) {
      for (const std::string& shared : plan->shared_outputs) {
        console.Warning(absl::StrCat(
            "output ", shared, " is outside the workspace: every run of the sweep writes it"));
      }
    }
    RunRecord entry;
    entry.id = run.id;
    entry.index = run.index;
    entry.repetition = run.repetition;
    for (const auto& [target, value] : run.values) entry.values.emplace_back(target.Label(), value);
    entry.run_dir = plan->run_dir;
    record.runs.push_back(std::move(entry));
    sweep.plans.push_back(std::move(*plan));
  }
  return sweep;
}

int RunSweep(PreparedSweep* sweep, const mlcube_remote::v1::SubmitJobRequest& base,
             const SweepContext& context, const Console& console) {
  for (RunRecord& run : sweep->record.runs) run.host = context.host;
  SweepHooks hooks;
  hooks.submit = [&](const RunRecord& run, const RunPlan& plan) -> absl::StatusOr<Job> {
    mlcube_remote::v1::SubmitJobRequest request = base;
    for (const std::string& assignment : plan.overrides) {
      const size_t eq = assignment.find('=');
      (*request.mutable_overrides())[assignment.substr(0, eq)] = assignment.substr(eq + 1);
    }
    request.set_client_request_id(absl::StrCat(base.client_request_id(), "-", run.id));
    return context.submit(request);
  };
  hooks.get = [&](const std::string& job_id) -> absl::StatusOr<Job> {
    mlcube_remote::v1::GetJobRequest request;
    request.set_job_id(job_id);
    Job job;
    auto rpc = AgentConnection::Context(std::chrono::seconds(10));
    grpc::Status status = context.agent->jobs().GetJob(rpc.get(), request, &job);
    if (!status.ok()) {
      return absl::UnavailableError(absl::StrCat("job ", job_id, ": ", status.error_message()));
    }
    return job;
  };
  if (!context.no_pull) {
    hooks.pull = [&](const RunRecord& run, const RunPlan& plan) -> absl::Status {
      if (plan.output_paths.empty()) return absl::OkStatus();
      PullOptions pull;
      pull.cube_root = context.cube->root;
      pull.workspace = context.cube->workspace;
      pull.cube_id = context.cube_id;
      pull.paths = plan.output_paths;
      pull.job_id = run.job_id;
      pull.skip_missing = true;
      return context.sync->Pull(pull).status();
    };
  }
  hooks.interrupted = [&] { return context.interrupts->count() > 0; };
  hooks.confirm_cancel = [&] {
    return context.interrupts->WaitForMore(1, std::chrono::seconds(3));
  };
  hooks.cancel = [&](const std::string& job_id) -> absl::StatusOr<Job> {
    mlcube_remote::v1::CancelJobRequest request;
    request.set_job_id(job_id);
    Job job;
    auto rpc = AgentConnection::Context(std::chrono::seconds(30));
    grpc::Status status = context.agent->jobs().CancelJob(rpc.get(), request, &job);
    if (!status.ok()) {
      return absl::UnavailableError(absl::StrCat("job ", job_id, ": ", status.error_message()));
    }
    return job;
  };
  hooks.tail = [&](const std::string& job_id, int64_t* offset) -> absl::StatusOr<std::string> {
    return LastLogLine(*context.agent, job_id, offset);
  };
  SweepRunnerOptions options;
  options.parallel = context.parallel;
  options.detach = context.detach;
  options.interactive = ::isatty(STDERR_FILENO) == 1;
  options.workspace = context.cube->workspace;
  console.Info(absl::StrFormat("sweep %s: %d runs of %s on %s, %d at a time; record: %s",
                               sweep->record.id, sweep->record.runs.size(), sweep->record.cube,
                               context.host, context.parallel,
                               SweepRecord::PathFor(context.cube->workspace, sweep->record.id)));
  SweepRunner runner(std::move(hooks), options, &console, stderr);
  const SweepEnd end = runner.Run(&sweep->record, sweep->plans);
  if (context.detach) std::printf("%s\n", sweep->record.id.c_str());
  return ExitCodeFor(end, sweep->record, context.detach);
}

}  // namespace mlcube
