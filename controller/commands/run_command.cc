#include "controller/commands/run_command.h"

#include <CLI/CLI.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config_tree.h"
#include "common/legacy_cube_converter.h"
#include "common/slurm_settings.h"
#include "common/yaml_reader.h"
#include "controller/remote/remote_run.h"
#include "controller/remote/remote_sweep.h"
#include "controller/terminal/exit_codes.h"
#include "controller/terminal/interrupt_monitor.h"
#include "controller/transport/agent_connection.h"
#include "controller/transport/hosts_file.h"

namespace mlcube {
namespace {

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
    command->add_option("--stage", options->stage,
                        "Slurm hosts: copy PATH of the host to node-local storage before the "
                        "task and bind it at DEST (PATH[:DEST], default /data); repeatable");
    command->add_flag("--detach,-d", options->detach,
                      "Submit and return at once; follow later with `logs -f`");
    command->add_flag("--cancel-on-interrupt", options->cancel_on_interrupt,
                      "Ctrl-C cancels the job instead of detaching");
    command->add_flag("--no-pull", options->no_pull, "Leave the outputs on the host");
    command->add_flag("--dry-run", options->dry_run,
                      "Print the commands the host would run (pushes the cube, starts nothing)");
    command->add_flag("--json", options->json, "With --dry-run: print one JSON object");
    AddSweepOptions(command, &options->sweep);
  }
}

namespace {

// Moves the -P slurm.KEY=VALUE assignments out of the cube's overrides and
// applies them over the host's slurm settings; checks the result.
absl::StatusOr<std::map<std::string, std::string>> SlurmSettingsForRun(const HostEntry& host,
                                                                       CubeLoadOptions* load) {
  std::map<std::string, std::string> slurm = host.slurm;
  std::vector<std::string> kept;
  for (const std::string& assignment : load->overrides) {
    if (!absl::StartsWith(assignment, "slurm.")) {
      kept.push_back(assignment);
      continue;
    }
    const size_t eq = assignment.find('=');
    const std::string key = assignment.substr(6, eq == std::string::npos ? eq : eq - 6);
    if (host.scheduler != "slurm") {
      return absl::InvalidArgumentError(absl::StrCat("-P slurm.", key, ": host ", host.name,
                                                     " does not use Slurm (scheduler: local)"));
    }
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("-P ", assignment, ": expected slurm.KEY=VALUE"));
    }
    slurm[key] = assignment.substr(eq + 1);
  }
  load->overrides = std::move(kept);
  absl::StatusOr<SlurmSettings> parsed = ParseSlurmSettings(slurm, "slurm");
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("-P ", parsed.status().message()));
  }
  return slurm;
}

// --stage values are for Slurm hosts; each must parse.
absl::Status CheckStage(const RunCommandOptions& options, const HostEntry& host) {
  for (const std::string& stage : options.stage) {
    absl::StatusOr<StageSpec> spec = ParseStageSpec(stage);
    if (!spec.ok()) return spec.status();
    if (host.scheduler != "slurm") {
      return absl::InvalidArgumentError(
          absl::StrCat("--stage: host ", host.name, " does not use Slurm (scheduler: local)"));
    }
  }
  return absl::OkStatus();
}

// Validates everything locally first (a typo should not cost a sync) and
// fills in the submit request.
absl::Status PrepareRequest(const RunCommandOptions& options, const HostEntry& host,
                            absl::StatusOr<Cube>* cube,
                            mlcube_remote::v1::SubmitJobRequest* request) {
  if (!options.cube.workspace.empty()) {
    return absl::InvalidArgumentError(
        "--workspace is not supported with a remote host yet: the workspace is the "
        "cube's own workspace/ directory");
  }
  CubeLoadOptions load = ToLoadOptions(options.cube);
  load.host_defaults = host.platform_defaults;
  absl::StatusOr<std::map<std::string, std::string>> slurm = SlurmSettingsForRun(host, &load);
  if (!slurm.ok()) return slurm.status();
  if (absl::Status s = CheckStage(options, host); !s.ok()) return s;
  for (const std::string& run_value : SweepLoadOverrides(options.sweep)) {
    load.overrides.push_back(run_value);
  }
  std::vector<std::string> tasks;
  if (!options.configure_only) {
    absl::StatusOr<std::vector<std::string>> names = ResolveTaskNames(options.task, &load);
    if (!names.ok()) return names.status();
    tasks = *names;
  }
  *cube = LoadCube(load);
  if (!cube->ok()) return cube->status();
  for (const std::string& task : tasks) {
    if ((*cube)->tasks.count(task) == 0) {
      std::vector<std::string> known;
      for (const auto& [name, unused] : (*cube)->tasks) known.push_back(name);
      return absl::InvalidArgumentError(absl::StrCat((*cube)->config_file, ": no task '", task,
                                                     "' (tasks: ", absl::StrJoin(known, ", "),
                                                     ")"));
    }
  }
  absl::StatusOr<std::map<std::string, std::string>> overrides = AgentOverrides(options, load);
  if (!overrides.ok()) return overrides.status();
  request->set_action(options.configure_only ? mlcube_remote::v1::JOB_ACTION_CONFIGURE
                                             : mlcube_remote::v1::JOB_ACTION_RUN);
  for (const std::string& task : tasks) request->add_tasks(task);
  request->set_runtime(ChooseRuntime(options, host));
  for (const auto& [key, value] : *overrides) (*request->mutable_overrides())[key] = value;
  for (const auto& [key, value] : FlattenScalars(host.platform_defaults)) {
    (*request->mutable_platform_defaults())[key] = value;
  }
  for (const auto& [key, value] : host.env) (*request->mutable_env())[key] = value;
  request->set_gpus(options.gpus);
  for (const std::string& stage : options.stage) request->add_stage(stage);
  if (host.scheduler == "slurm") {
    request->set_scheduler("slurm");
    for (const auto& [key, value] : *slurm) (*request->mutable_slurm())[key] = value;
  }
  return absl::OkStatus();
}

}  // namespace

int RunRunCommand(const RunCommandOptions& options, const Console& console) {
  // First, before any thread exists: Ctrl-C is handled on its own thread.
  InterruptMonitor interrupts;
  if (options.json && !options.dry_run) {
    console.Error("--json goes with --dry-run (a run streams the task's own output)");
    return kExitBadInput;
  }
  HostsFile hosts;
  absl::StatusOr<HostEntry> host = LoadHost(options.hosts_path, options.host, &hosts);
  if (!host.ok()) {
    console.Error(host.status().message());
    return kExitBadInput;
  }
  RemoteRunRequest request;
  absl::StatusOr<Cube> cube = absl::UnknownError("not loaded");
  if (absl::Status s = PrepareRequest(options, *host, &cube, &request.submit); !s.ok()) {
    console.Error(s.message());
    return kExitBadInput;
  }
  for (const std::string& warning : cube->warnings) console.Warning(warning);
  // A sweep is refused here, naming the axis, or its runs' inputs are
  // written so the push takes them.
  const std::vector<std::string> tasks(request.submit.tasks().begin(),
                                       request.submit.tasks().end());
  absl::StatusOr<std::optional<PreparedSweep>> sweep =
      options.configure_only ? std::optional<PreparedSweep>()
                             : PrepareSweep(options.sweep, *cube, tasks, console);
  if (!sweep.ok() || (sweep->has_value() && options.dry_run)) {
    console.Error(sweep.ok() ? "--dry-run plans one run; it does not take --sweep or --repeat"
                             : sweep.status().message());
    return kExitBadInput;
  }
  absl::StatusOr<std::unique_ptr<AgentConnection>> connection = AgentConnection::Open(*host);
  if (!connection.ok()) {
    console.Error(connection.status().message());
    return kExitBadInput;
  }
  request.cube = &*cube;
  request.host_name = host->name;
  request.exclude = hosts.exclude;
  request.detach = options.detach;
  request.cancel_on_interrupt = options.cancel_on_interrupt;
  request.no_pull = options.no_pull;
  request.json = options.json;
  if (options.dry_run) return PlanRemoteJob(**connection, request, interrupts, console);
  if (sweep->has_value()) {
    return RunRemoteSweep(**connection, request, &**sweep, interrupts, console);
  }
  return RunRemoteJob(**connection, request, interrupts, console);
}

}  // namespace mlcube
