#include "controller/commands/run_command.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/config_tree.h"
#include "common/legacy_cube_converter.h"
#include "common/safe_path.h"
#include "common/yaml_reader.h"
#include "controller/remote/cube_push.h"
#include "controller/remote/job_watcher.h"
#include "controller/sync/scan_cache.h"
#include "controller/sync/sync_client.h"
#include "controller/terminal/exit_codes.h"
#include "controller/terminal/interrupt_monitor.h"
#include "controller/terminal/progress_reporter.h"
#include "controller/transport/agent_connection.h"
#include "controller/transport/hosts_file.h"

namespace mlcube {
namespace {

using mlcube_remote::v1::Job;

std::string RandomRequestId() {
  std::random_device device;
  std::uniform_int_distribution<uint32_t> digits(0, 0xffffffff);
  return absl::StrFormat("%08x%08x%08x", digits(device), digits(device), digits(device));
}

mlcube_remote::v1::Runtime ChooseRuntime(const RunCommandOptions& options, const HostEntry& host) {
  std::string runtime = host.runtime;
  const std::string platform = options.cube.platform;
  const std::string name = platform.substr(platform.find_last_of('/') + 1);
  if (absl::StrContains(name, "singularity") || absl::StrContains(name, "apptainer")) {
    runtime = "singularity";
  } else if (absl::StrContains(name, "podman")) {
    runtime = "podman";
  } else if (absl::StrContains(name, "docker")) {
    runtime = "docker";
  }
  if (runtime == "singularity") return mlcube_remote::v1::RUNTIME_SINGULARITY;
  if (runtime == "podman") return mlcube_remote::v1::RUNTIME_PODMAN;
  return mlcube_remote::v1::RUNTIME_DOCKER;
}

// Everything the agent must apply over the cube: the platform file (it is
// not necessarily inside the synced tree), run-file bindings and -P flags,
// in increasing precedence.
absl::StatusOr<std::map<std::string, std::string>> AgentOverrides(const RunCommandOptions& options,
                                                                  const CubeLoadOptions& load) {
  std::map<std::string, std::string> overrides;
  if (!options.cube.platform.empty()) {
    absl::StatusOr<YAML::Node> platform =
        ReadYamlFile(options.cube.platform, options.cube.platform);
    if (!platform.ok()) return platform.status();
    absl::StatusOr<YAML::Node> fragment = ConvertPlatformFile({options.cube.platform, *platform});
    if (!fragment.ok()) return fragment.status();
    for (const auto& [key, value] : FlattenScalars(*fragment)) overrides[key] = value;
  }
  for (const std::string& assignment : load.overrides) {
    const size_t eq = assignment.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("-P ", assignment, ": expected key.path=value"));
    }
    overrides[assignment.substr(0, eq)] = assignment.substr(eq + 1);
  }
  return overrides;
}

// Workspace-relative paths of the tasks' outputs (what comes back).
std::vector<std::string> OutputPaths(const Cube& cube, const std::vector<std::string>& tasks,
                                     const Console& console) {
  std::vector<std::string> paths;
  for (const std::string& name : tasks) {
    for (const Parameter& output : cube.tasks.at(name).outputs) {
      if (!IsWithin(output.host_path, cube.workspace)) {
        console.Warning(absl::StrCat("output '", output.name, "' of ", name, " (", output.host_path,
                                     ") is outside the workspace and stays on the host"));
        continue;
      }
      std::string relative = output.host_path == cube.workspace
                                 ? ""
                                 : output.host_path.substr(cube.workspace.size() + 1);
      if (std::find(paths.begin(), paths.end(), relative) == paths.end()) {
        paths.push_back(relative);
      }
    }
  }
  return paths;
}

absl::StatusOr<Job> SubmitWithRetry(AgentConnection& connection,
                                    const mlcube_remote::v1::SubmitJobRequest& request,
                                    const Console& console) {
  std::chrono::milliseconds backoff(200);
  for (int attempt = 0;; ++attempt) {
    Job job;
    auto context = AgentConnection::Context(std::chrono::seconds(30));
    context->set_wait_for_ready(attempt > 0);
    grpc::Status status = connection.jobs().SubmitJob(context.get(), request, &job);
    if (status.ok()) return job;
    // The same client_request_id makes a retry return the job a lost reply
    // described instead of starting a second one.
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

int ExitForStatus(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument ||
                 status.code() == absl::StatusCode::kNotFound ||
                 status.code() == absl::StatusCode::kFailedPrecondition
             ? kExitBadInput
             : kExitAgentError;
}

}  // namespace

void AddRunOptions(CLI::App* command, RunCommandOptions* options, bool is_run) {
  AddCubeOptions(command, &options->cube);
  command->add_option("--host", options->host,
                      "Host from the hosts file (default: its default_host)");
  if (is_run) {
    command
        ->add_option("--task", options->task,
                     "Task(s) to run, comma separated, or an older layout's run/TASK.yaml")
        ->required();
    command->add_option("--gpus", options->gpus, "GPUs for the task: all, a count, or device=0,1");
    command->add_flag("--detach,-d", options->detach,
                      "Submit and return at once; follow later with `logs -f`");
    command->add_flag("--cancel-on-interrupt", options->cancel_on_interrupt,
                      "Ctrl-C cancels the job instead of detaching");
    command->add_flag("--no-pull", options->no_pull, "Leave the outputs on the host");
    AddSweepOptions(command, &options->sweep);
  }
}

int RunRunCommand(const RunCommandOptions& options, const Console& console) {
  // First, before any thread exists: Ctrl-C is handled on its own thread.
  InterruptMonitor interrupts;
  const auto start = std::chrono::steady_clock::now();

  HostsFile hosts;
  absl::StatusOr<HostEntry> host = LoadHost(options.hosts_path, options.host, &hosts);
  if (!host.ok()) {
    console.Error(host.status().message());
    return kExitBadInput;
  }
  if (!options.cube.workspace.empty()) {
    console.Error(
        "--workspace is not supported with a remote host yet: the workspace is the "
        "cube's own workspace/ directory");
    return kExitBadInput;
  }

  // Validate everything locally first: a typo should not cost a sync.
  CubeLoadOptions load = ToLoadOptions(options.cube);
  load.host_defaults = host->platform_defaults;
  for (const std::string& run_value : SweepLoadOverrides(options.sweep)) {
    load.overrides.push_back(run_value);
  }
  std::vector<std::string> tasks;
  if (!options.configure_only) {
    absl::StatusOr<std::vector<std::string>> names = ResolveTaskNames(options.task, &load);
    if (!names.ok()) {
      console.Error(names.status().message());
      return kExitBadInput;
    }
    tasks = *names;
  }
  absl::StatusOr<Cube> cube = LoadCube(load);
  if (!cube.ok()) {
    console.Error(cube.status().message());
    return kExitBadInput;
  }
  for (const std::string& task : tasks) {
    if (cube->tasks.count(task) == 0) {
      std::vector<std::string> known;
      for (const auto& [name, unused] : cube->tasks) known.push_back(name);
      console.Error(absl::StrCat(cube->config_file, ": no task '", task,
                                 "' (tasks: ", absl::StrJoin(known, ", "), ")"));
      return kExitBadInput;
    }
  }
  absl::StatusOr<std::map<std::string, std::string>> overrides = AgentOverrides(options, load);
  if (!overrides.ok()) {
    console.Error(overrides.status().message());
    return kExitBadInput;
  }

  // A sweep is refused here, naming the axis, or its runs' inputs are
  // written so the push below takes them.
  absl::StatusOr<std::optional<PreparedSweep>> sweep =
      PrepareSweep(options.sweep, *cube, tasks, console);
  if (!sweep.ok()) {
    console.Error(sweep.status().message());
    return kExitBadInput;
  }

  absl::StatusOr<std::unique_ptr<AgentConnection>> connection = AgentConnection::Open(*host);
  if (!connection.ok()) {
    console.Error(connection.status().message());
    return kExitBadInput;
  }
  AgentConnection& agent = **connection;

  // 1. Push the cube (only what the agent lacks; never images).
  const std::string cube_id = SyncClient::DefaultCubeId(cube->root);
  ScanCache cache = ScanCache::Load(ScanCache::DefaultFileFor(cube->root));
  SyncClient sync(agent.channel(), &cache);
  CubePushRequest push_request;
  push_request.cube = &*cube;
  push_request.cube_id = cube_id;
  push_request.exclude = hosts.exclude;
  // Ctrl-C during the push stops at once: nothing has started on the host,
  // files land there atomically and the next push resumes what was sent.
  interrupts.SetCallback([](int) {
    static const char kMessage[] =
        "\nmlcube-remote: interrupted during the push; no job was started\n";
    (void)!::write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
    ::_exit(kExitCancelled);
  });
  absl::StatusOr<PushStats> pushed = PushCube(sync, push_request, console);
  interrupts.SetCallback(nullptr);
  if (!pushed.ok()) {
    console.Error(absl::StrCat("push to ", agent.Describe(), ": ", pushed.status().message()));
    return ExitForStatus(pushed.status());
  }
  console.Info(absl::StrFormat("synced %s to %s: %d files, %s sent, %s already there", cube->name,
                               host->name, pushed->files_scanned,
                               ProgressReporter::HumanBytes(pushed->bytes_sent),
                               ProgressReporter::HumanBytes(pushed->bytes_deduplicated)));

  // 2. Submit.
  mlcube_remote::v1::SubmitJobRequest request;
  request.set_cube_id(cube_id);
  request.set_action(options.configure_only ? mlcube_remote::v1::JOB_ACTION_CONFIGURE
                                            : mlcube_remote::v1::JOB_ACTION_RUN);
  for (const std::string& task : tasks) request.add_tasks(task);
  request.set_runtime(ChooseRuntime(options, *host));
  for (const auto& [key, value] : *overrides) (*request.mutable_overrides())[key] = value;
  for (const auto& [key, value] : FlattenScalars(host->platform_defaults)) {
    (*request.mutable_platform_defaults())[key] = value;
  }
  for (const auto& [key, value] : host->env) (*request.mutable_env())[key] = value;
  request.set_gpus(options.gpus);
  request.set_client_request_id(RandomRequestId());
  if (sweep->has_value()) {
    SweepContext context;
    context.cube = &*cube;
    context.cube_id = cube_id;
    context.host = host->name;
    context.agent = &agent;
    context.sync = &sync;
    context.interrupts = &interrupts;
    context.detach = options.detach;
    context.no_pull = options.no_pull;
    context.parallel = options.sweep.parallel;
    context.submit = [&](const mlcube_remote::v1::SubmitJobRequest& one) {
      return SubmitWithRetry(agent, one, console);
    };
    return RunSweep(&**sweep, request, context, console);
  }
  absl::StatusOr<Job> job = SubmitWithRetry(agent, request, console);
  if (!job.ok()) {
    console.Error(job.status().message());
    return ExitForStatus(job.status());
  }
  const std::string reattach =
      absl::StrCat("mlcube-remote logs -f --host=", host->name, " ", job->id());
  console.Info(absl::StrCat("job ", job->id(), " on ", host->name, ": ",
                            options.configure_only ? "configure" : absl::StrJoin(tasks, ","), " (",
                            JobStateName(job->state()), ")"));
  if (options.detach) {
    console.Info(absl::StrCat("detached; follow it with: ", reattach));
    std::printf("%s\n", job->id().c_str());
    return kExitOk;
  }

  // 3. Stream its output live.
  JobWatcher watcher(&agent, &console, &interrupts);
  WatchOptions watch;
  absl::StatusOr<WatchOutcome> outcome = watcher.Watch(job->id(), watch);
  if (!outcome.ok()) {
    console.Error(outcome.status().message());
    return kExitAgentError;
  }
  if (outcome->interrupted) {
    bool cancel = options.cancel_on_interrupt;
    if (!cancel) {
      console.Info(absl::StrCat("detached from job ", job->id(),
                                "; press Ctrl-C again within 3 s to cancel it"));
      cancel = interrupts.WaitForMore(interrupts.count(), std::chrono::seconds(3));
    }
    if (!cancel) {
      console.Info(absl::StrCat("job ", job->id(), " goes on; re-attach with: ", reattach));
      return kExitCancelled;
    }
    mlcube_remote::v1::CancelJobRequest cancel_request;
    cancel_request.set_job_id(job->id());
    Job cancelled;
    auto context = AgentConnection::Context(std::chrono::seconds(30));
    grpc::Status status = agent.jobs().CancelJob(context.get(), cancel_request, &cancelled);
    if (!status.ok()) {
      console.Error(absl::StrCat("cancelling job ", job->id(), ": ", status.error_message()));
      return kExitAgentError;
    }
    console.Info(absl::StrCat("cancelled job ", job->id()));
    return kExitCancelled;
  }
  const Job& final_job = outcome->job;
  const int exit_status = ExitStatusForJob(final_job);
  const auto report_job = [&] {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (final_job.state() == mlcube_remote::v1::JOB_STATE_SUCCEEDED) {
      console.Info(absl::StrFormat("job %s succeeded in %.1f s", final_job.id(), seconds));
    } else {
      console.Error(absl::StrFormat(
          "job %s %s%s%s%s", final_job.id(), JobStateName(final_job.state()),
          final_job.reason().empty() ? "" : ": ", final_job.reason(),
          final_job.exit_code() == 0 ? ""
                                     : absl::StrCat(" (exit code ", final_job.exit_code(), ")")));
    }
  };

  // 4. Bring the outputs back, also after a failure (logs are outputs too).
  if (!options.configure_only && !options.no_pull &&
      final_job.state() != mlcube_remote::v1::JOB_STATE_CANCELLED) {
    PullOptions pull;
    pull.cube_root = cube->root;
    pull.workspace = cube->workspace;
    pull.cube_id = cube_id;
    pull.paths = OutputPaths(*cube, tasks, console);
    pull.skip_missing = true;  // a failed task may not have written them all
    pull.show_progress = console.verbosity() != Verbosity::kQuiet;
    pull.interactive = ::isatty(STDERR_FILENO) == 1;
    if (!pull.paths.empty()) {
      // Each file is written to a temporary name and renamed, so stopping
      // here leaves every local file whole, old or new.
      interrupts.SetCallback([](int) {
        static const char kMessage[] =
            "\nmlcube-remote: interrupted while pulling outputs; `mlcube-remote sync pull` "
            "fetches the rest\n";
        (void)!::write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
        ::_exit(kExitCancelled);
      });
      absl::StatusOr<PullStats> pulled = sync.Pull(pull);
      interrupts.SetCallback(nullptr);
      if (!pulled.ok()) {
        console.Error(absl::StrCat("pulling outputs from ", agent.Describe(), ": ",
                                   pulled.status().message()));
        report_job();  // what happened to the job matters more
        return exit_status != kExitOk ? exit_status : kExitAgentError;
      }
      for (const std::string& conflict : pulled->conflicts) {
        console.Warning(absl::StrCat("kept your ", conflict,
                                     ": it changed since the last sync; the host's version is in ",
                                     conflict, ".remote"));
      }
      std::vector<std::string> shown;
      for (const std::string& path : pull.paths) {
        shown.push_back(path.empty() ? cube->workspace : absl::StrCat(cube->workspace, "/", path));
      }
      console.Info(absl::StrFormat("outputs: %s (%d files updated, %s)", absl::StrJoin(shown, ", "),
                                   pulled->files_written,
                                   ProgressReporter::HumanBytes(pulled->bytes_received)));
    }
  }
  report_job();
  return exit_status;
}

}  // namespace mlcube
