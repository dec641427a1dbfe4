#include "controller/commands/run_command.h"

#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config_tree.h"
#include "common/copied_variables.h"
#include "common/legacy_cube_converter.h"
#include "common/slurm_settings.h"
#include "common/yaml_reader.h"
#include "controller/commands/run_gang.h"
#include "controller/hosts/hosts_file.h"
#include "controller/install/agent_connector.h"
#include "controller/remote/rank_filter.h"
#include "controller/remote/remote_run.h"
#include "controller/remote/remote_sweep.h"
#include "controller/terminal/exit_codes.h"
#include "controller/terminal/interrupt_monitor.h"
#include "controller/transport/agent_connection.h"

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
                      is_run ? "Host from the hosts file (default: its default_host); a sweep "
                               "also takes a comma list or a group: --host=gpu01,gpu02"
                             : "Host from the hosts file (default: its default_host)");
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
    command
        ->add_option("--nodes", options->nodes,
                     "One job across N hosts of --host (a list or a group): rank i on the "
                     "i-th, all started or none, output merged as [rank N]")
        ->check(CLI::Range(2, 1000));
    command
        ->add_option("--master-port", options->master_port,
                     "With --nodes: MASTER_PORT of the ranks (default: derived from the "
                     "job's id, 29500-49499)")
        ->check(CLI::Range(1024, 65535));
    command
        ->add_option("--start-timeout", options->start_timeout_s,
                     "With --nodes: seconds for every rank to start before all are "
                     "cancelled (default 600)")
        ->check(CLI::Range(1, 86400));
    command->add_option("--ranks", options->ranks,
                        "A task of several ranks (slurm.nodes, slurm.ntasks_per_node): print only "
                        "these ranks' lines (0, 0,2 or 0-3)");
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
  // As MLCube: `-e NAME` in the cube's run arguments copies *your* NAME.
  for (const std::string& name : CopiedVariableNames(**cube)) {
    if (const char* value = getenv(name.c_str())) (*request->mutable_caller_env())[name] = value;
  }
  request->set_gpus(options.gpus);
  for (const std::string& stage : options.stage) request->add_stage(stage);
  if (host.scheduler == "slurm") {
    request->set_scheduler("slurm");
    for (const auto& [key, value] : *slurm) (*request->mutable_slurm())[key] = value;
  }
  return absl::OkStatus();
}

// The first --nodes hosts of --host, for one job across them.
absl::StatusOr<std::vector<HostEntry>> GangHosts(const RunCommandOptions& options,
                                                 std::vector<HostEntry> hosts) {
  const bool sweep = !SweepLoadOverrides(options.sweep).empty();
  if (sweep || options.configure_only || options.dry_run) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--nodes runs one job across hosts; it does not take ", sweep ? "--sweep or --repeat"
                                                                : options.dry_run ? "--dry-run"
                                                                                  : "configure"));
  }
  if (static_cast<int>(hosts.size()) < options.nodes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--nodes=", options.nodes, " needs as many hosts; --host=", options.host, " names ",
        hosts.size(), " (give a comma list or a group of at least ", options.nodes, ")"));
  }
  hosts.resize(options.nodes);
  return hosts;
}

// The hosts --host names; several only for a sweep or --nodes.
absl::StatusOr<std::vector<HostEntry>> ResolveHosts(const RunCommandOptions& options,
                                                    HostsFile* file) {
  absl::StatusOr<HostsFile> loaded = LoadHostsFile(options.hosts_lookup);
  if (!loaded.ok()) return loaded.status();
  *file = *std::move(loaded);
  absl::StatusOr<std::vector<HostEntry>> hosts = file->Resolve(options.host);
  if (!hosts.ok()) return hosts;
  if (options.nodes > 0) return GangHosts(options, *std::move(hosts));
  if (hosts->size() == 1) return hosts;
  std::vector<std::string> names;
  for (const HostEntry& host : *hosts) names.push_back(host.name);
  const bool sweep = !SweepLoadOverrides(options.sweep).empty();
  if (!sweep || options.configure_only || options.dry_run) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--host=", options.host, " names ", names.size(), " hosts (", absl::StrJoin(names, ", "),
        "): ",
        options.configure_only ? "configure"
        : options.dry_run      ? "--dry-run"
                               : "a single run",
        " goes to one host; name one, or spread a sweep (--sweep, --sweep-file, --repeat) over "
        "them"));
  }
  return hosts;
}

// One request per host (its cube loaded with the host's defaults), all
// checked before anything moves. `cubes` keeps the cubes the requests
// point at.
absl::Status PrepareRequests(const RunCommandOptions& options, const HostsFile& file,
                             const std::vector<HostEntry>& hosts,
                             std::deque<absl::StatusOr<Cube>>* cubes,
                             std::vector<RemoteRunRequest>* requests) {
  for (const HostEntry& host : hosts) {
    cubes->emplace_back(absl::UnknownError("not loaded"));
    RemoteRunRequest request;
    if (absl::Status s = PrepareRequest(options, host, &cubes->back(), &request.submit); !s.ok()) {
      return hosts.size() > 1 ? absl::Status(s.code(), absl::StrCat(host.name, ": ", s.message()))
                              : s;
    }
    request.cube = &*cubes->back();
    request.host_name = host.name;
    request.exclude = file.exclude;
    request.sync_features = options.sync_features;
    request.detach = options.detach;
    request.cancel_on_interrupt = options.cancel_on_interrupt;
    request.no_pull = options.no_pull;
    request.json = options.json;
    if (!options.ranks.empty()) {
      absl::StatusOr<std::set<int>> ranks = ParseRankList(options.ranks);
      if (!ranks.ok()) return ranks.status();
      request.ranks = std::move(*ranks);
    }
    requests->push_back(std::move(request));
  }
  return absl::OkStatus();
}

// A sweep over several hosts: each host's connection (a host that cannot
// be opened is left out with a warning).
int RunSweepOnHosts(const std::vector<HostEntry>& hosts, std::vector<RemoteRunRequest> requests,
                    PreparedSweep* sweep, InterruptMonitor& interrupts, const Console& console) {
  std::vector<std::unique_ptr<AgentConnection>> connections;
  std::vector<SweepHost> targets;
  for (size_t i = 0; i < hosts.size(); ++i) {
    absl::StatusOr<std::unique_ptr<AgentConnection>> connection = ConnectToAgent(hosts[i]);
    if (!connection.ok()) {
      console.Warning(absl::StrCat(hosts[i].name,
                                   " is left out of the sweep: ", connection.status().message()));
      continue;
    }
    console.Verbose(RequestIdLine(**connection));
    connections.push_back(std::move(*connection));
    SweepHost target;
    target.agent = connections.back().get();
    target.request = std::move(requests[i]);
    targets.push_back(std::move(target));
  }
  if (targets.empty()) {
    console.Error("no host of the sweep could be reached (see the warnings above)");
    return kExitBadInput;
  }
  return RunRemoteSweep(std::move(targets), sweep, interrupts, console);
}

}  // namespace

int RunRunCommand(const RunCommandOptions& options, const Console& console) {
  // First, before any thread exists: Ctrl-C is handled on its own thread.
  InterruptMonitor interrupts;
  if (options.json && !options.dry_run) {
    console.Error("--json goes with --dry-run (a run streams the task's own output)");
    return kExitBadInput;
  }
  HostsFile file;
  absl::StatusOr<std::vector<HostEntry>> hosts = ResolveHosts(options, &file);
  if (!hosts.ok()) {
    console.Error(hosts.status().message());
    return kExitBadInput;
  }
  std::deque<absl::StatusOr<Cube>> cubes;
  std::vector<RemoteRunRequest> requests;
  if (absl::Status s = PrepareRequests(options, file, *hosts, &cubes, &requests); !s.ok()) {
    console.Error(s.message());
    return kExitBadInput;
  }
  const Cube& cube = *requests.front().cube;
  for (const std::string& warning : cube.warnings) console.Warning(warning);
  for (const std::string& name : CopiedVariableNames(cube)) {
    if (getenv(name.c_str()) != nullptr) continue;
    console.Warning(absl::StrCat("the cube copies ", name, " from your environment (-e ", name,
                                 "), but it is not set here: the task starts without it"));
  }
  // A sweep is refused here, naming the axis, or its runs' inputs are
  // written so the push takes them.
  const std::vector<std::string> tasks(requests.front().submit.tasks().begin(),
                                       requests.front().submit.tasks().end());
  absl::StatusOr<std::optional<PreparedSweep>> sweep =
      options.configure_only ? std::optional<PreparedSweep>()
                             : PrepareSweep(options.sweep, cube, tasks, console);
  if (!sweep.ok() || (sweep->has_value() && options.dry_run)) {
    console.Error(sweep.ok() ? "--dry-run plans one run; it does not take --sweep or --repeat"
                             : sweep.status().message());
    return kExitBadInput;
  }
  if (options.nodes > 0) {
    GangRunOptions gang;
    gang.master_port = options.master_port;
    gang.start_timeout = absl::Seconds(options.start_timeout_s);
    gang.detach = options.detach;
    gang.cancel_on_interrupt = options.cancel_on_interrupt;
    gang.no_pull = options.no_pull;
    gang.ranks = requests.front().ranks;
    return RunGang(*hosts, std::move(requests), gang, interrupts, console);
  }
  if (hosts->size() > 1) {
    return RunSweepOnHosts(*hosts, std::move(requests), &**sweep, interrupts, console);
  }
  absl::StatusOr<std::unique_ptr<AgentConnection>> connection = ConnectToAgent(hosts->front());
  if (!connection.ok()) {
    console.Error(connection.status().message());
    return kExitBadInput;
  }
  console.Verbose(RequestIdLine(**connection));
  RemoteRunRequest& request = requests.front();
  if (options.dry_run) return PlanRemoteJob(**connection, request, interrupts, console);
  if (sweep->has_value()) {
    return RunRemoteSweep(**connection, request, &**sweep, interrupts, console);
  }
  return RunRemoteJob(**connection, request, interrupts, console);
}

}  // namespace mlcube
