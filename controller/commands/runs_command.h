#ifndef MLCUBE_REMOTE_CONTROLLER_COMMANDS_RUNS_COMMAND_H_
#define MLCUBE_REMOTE_CONTROLLER_COMMANDS_RUNS_COMMAND_H_

// `mlcube-remote runs [SWEEP]`: the table of a cube's runs from the sweep
// records in its workspace (runs/*/sweep.yaml); and `mlcube-remote plot
// SWEEP --y=METRIC`: one curve per run from each run's metrics file, drawn
// by gnuplot. Both read local files only, except `runs --refresh`.

#include <ostream>
#include <string>

#include "controller/commands/cube_options.h"
#include "controller/hosts/hosts_file.h"
#include "controller/terminal/console.h"

namespace CLI {
class App;
}

namespace mlcube {

struct RunsCommandOptions {
  CubeOptions cube;
  HostsLookup hosts_lookup;  // --hosts and the environment
  // Ask each unfinished run's host for its job's state (runs left by
  // --detach or Ctrl-C) and save what changed.
  bool refresh = false;
  // Run SWEEP's failed and cancelled runs again (sweep_rerun.h), then show
  // the table.
  bool rerun_failed = false;
  std::string sweep;  // empty: every sweep
  std::string host;
  std::string state;
  std::string sort;
  bool json = false;
  bool csv = false;
};

struct PlotCommandOptions {
  CubeOptions cube;
  std::string sweep;
  std::string y;
  std::string x = "step";
  std::string output;   // .png / .svg; empty: a text chart
  std::string metrics;  // overrides the sweep's --metrics path
};

CLI::App* AddRunsCommand(CLI::App* app, RunsCommandOptions* options);
CLI::App* AddPlotCommand(CLI::App* app, PlotCommandOptions* options);

int RunRunsCommand(const RunsCommandOptions& options, const Console& console, std::ostream& out);
int RunPlotCommand(const PlotCommandOptions& options, const Console& console, std::ostream& out);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_COMMANDS_RUNS_COMMAND_H_
