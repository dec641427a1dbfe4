#include "controller/cli.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <string>

#include "controller/commands/agent_command.h"
#include "controller/commands/cube_options.h"
#include "controller/commands/describe_command.h"
#include "controller/commands/hosts_command.h"
#include "controller/commands/job_commands.h"
#include "controller/commands/run_command.h"
#include "controller/commands/runs_command.h"
#include "controller/commands/sync_command.h"
#include "controller/commands/ui_command.h"
#include "controller/terminal/console.h"
#include "controller/terminal/exit_codes.h"

namespace mlcube {
namespace {

struct GlobalOptions {
  bool quiet = false;
  bool verbose = false;
};

Verbosity ToVerbosity(const GlobalOptions& global) {
  if (global.quiet) return Verbosity::kQuiet;
  if (global.verbose) return Verbosity::kVerbose;
  return Verbosity::kNormal;
}

struct JobCommandApps {
  CLI::App* status;
  CLI::App* logs;
  CLI::App* cancel;
  CLI::App* rerun;
  CLI::App* jobs;
};

// status, logs, cancel and jobs: a job id (or --all) and --host.
JobCommandApps AddJobCommands(CLI::App& app, JobCommandOptions* options) {
  auto add_job_command = [&](const char* name, const char* help) {
    CLI::App* command = app.add_subcommand(name, help);
    command->add_option("--host", options->host,
                        "Host from the hosts file (default: its default_host)");
    return command;
  };
  JobCommandApps apps;
  apps.status = add_job_command("status", "Show a job's state, tasks, times and exit code");
  apps.logs = add_job_command("logs", "Print a job's output; -f follows it until it ends");
  apps.logs->add_flag("-f,--follow", options->follow, "Keep streaming until the job ends");
  apps.logs->add_option("--ranks", options->ranks,
                        "A job of several ranks: only these ranks' lines (0, 0,2 or 0-3)");
  apps.cancel = add_job_command("cancel", "Cancel a job (kills its container)");
  // A run of a sweep may stand for its job: its host and job id come from
  // the sweep's record in the cube's workspace (--mlcube).
  for (CLI::App* command : {apps.status, apps.logs, apps.cancel}) {
    command->add_option("JOB", options->job_id, "Job id, or SWEEP/RUN (a run of a sweep)")
        ->required();
    AddCubeOptions(command, &options->cube);
  }
  apps.rerun = add_job_command(
      "rerun",
      "Run a job again as it was submitted (same tasks, settings and GPUs); prints the new job");
  apps.rerun->add_option("JOB", options->job_id, "Job id")->required();
  apps.jobs = add_job_command("jobs", "List your jobs on a host");
  apps.jobs->add_flag("--all", options->all, "Include finished jobs");
  return apps;
}

// The exit code when parsing ends the program (help, version, a bad
// option); nothing when a command is to run.
std::optional<int> Parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitBadInput;
  }
  return std::nullopt;
}

}  // namespace

int RunCli(int argc, char** argv, const ControllerEnvironment& env) {
  CLI::App app{"mlcube-remote: run MLCube tasks on remote mlcube-agent hosts"};
  app.set_version_flag("--version", std::string("mlcube-remote ") + MLCUBE_REMOTE_VERSION);
  app.require_subcommand(1);
  // Global flags (--hosts, -q, -v) may also follow the command.
  app.fallthrough();
  GlobalOptions global;
  app.add_flag("-q,--quiet", global.quiet, "Only errors from mlcube-remote itself");
  app.add_flag("-v,--verbose", global.verbose, "More detail from mlcube-remote itself");

  CubeOptions describe_options;
  CLI::App* describe = app.add_subcommand(
      "describe", "Show a cube's name, tasks and parameters with resolved host paths");
  AddCubeOptions(describe, &describe_options);

  CubeOptions show_config_options;
  CLI::App* show_config =
      app.add_subcommand("show-config", "Print the effective, fully interpolated configuration");
  AddCubeOptions(show_config, &show_config_options);

  std::string hosts_path;
  app.add_option("--hosts", hosts_path,
                 "Hosts file (default $MLCUBE_REMOTE_HOSTS, then "
                 "~/.config/mlcube-remote/hosts.yaml)");
  CLI::App* hosts = app.add_subcommand(
      "hosts", "List hosts with reachability, agent version, runtimes, GPUs, free disk, RTT");

  JobCommandOptions job_options;
  const JobCommandApps job_apps = AddJobCommands(app, &job_options);
  SyncCommandOptions sync_options;
  CLI::App* sync = AddSyncCommand(&app, &sync_options);

  AgentCommandOptions agent_options;
  CLI::App* agent = AddAgentCommand(&app, &agent_options);

  RunCommandOptions run_options;
  CLI::App* run = app.add_subcommand(
      "run", "Sync the cube, run task(s) on a host, stream the output, bring the outputs back");
  AddRunOptions(run, &run_options, /*is_run=*/true);
  RunCommandOptions configure_options;
  configure_options.configure_only = true;
  CLI::App* configure =
      app.add_subcommand("configure", "Sync the cube and build or pull its image on a host");
  AddRunOptions(configure, &configure_options, /*is_run=*/false);
  RunsCommandOptions runs_options;
  CLI::App* runs = AddRunsCommand(&app, &runs_options);
  PlotCommandOptions plot_options;
  CLI::App* plot = AddPlotCommand(&app, &plot_options);
  UiCommandOptions ui_options;
  CLI::App* ui = AddUiCommand(&app, &ui_options);

  if (std::optional<int> exit_code = Parse(app, argc, argv)) return *exit_code;

  const Console console = Console::ForStderr(ToVerbosity(global), env.no_color);
  if (describe->parsed()) return RunDescribeCommand(describe_options, console, std::cout);
  if (show_config->parsed()) return RunShowConfigCommand(show_config_options, console, std::cout);
  HostsLookup hosts_lookup = env.hosts;
  hosts_lookup.explicit_path = hosts_path;
  if (hosts->parsed()) return RunHostsCommand(hosts_lookup, console, std::cout);
  runs_options.hosts_lookup = hosts_lookup;
  if (runs->parsed()) return RunRunsCommand(runs_options, console, std::cout);
  if (plot->parsed()) return RunPlotCommand(plot_options, console, std::cout);
  ui_options.hosts_lookup = hosts_lookup;
  if (ui->parsed()) return RunUiCommand(ui_options, console, std::cout);
  job_options.hosts_lookup = hosts_lookup;
  for (RunCommandOptions* options : {&run_options, &configure_options}) {
    options->hosts_lookup = hosts_lookup;
    options->sync_features = env.sync_features;
  }
  if (run->parsed()) return RunRunCommand(run_options, console);
  if (configure->parsed()) return RunRunCommand(configure_options, console);
  if (job_apps.status->parsed()) return RunStatusCommand(job_options, console, std::cout);
  if (job_apps.logs->parsed()) return RunLogsCommand(job_options, console);
  if (job_apps.cancel->parsed()) return RunCancelCommand(job_options, console, std::cout);
  if (job_apps.rerun->parsed()) return RunRerunCommand(job_options, console, std::cout);
  if (job_apps.jobs->parsed()) return RunJobsCommand(job_options, console, std::cout);
  sync_options.hosts_lookup = hosts_lookup;
  sync_options.sync_features = env.sync_features;
  if (sync->parsed()) return RunSyncCommand(sync_options, console, std::cout);
  agent_options.hosts_lookup = hosts_lookup;
  agent_options.env_bundle_dir = env.bundle_dir;
  if (agent->parsed()) return RunAgentCommand(agent_options, console, std::cout);
  return kExitBadInput;
}

}  // namespace mlcube
