#ifndef MLCUBE_REMOTE_CONTROLLER_COMMANDS_RUN_COMMAND_H_
#define MLCUBE_REMOTE_CONTROLLER_COMMANDS_RUN_COMMAND_H_

// `mlcube-remote run` and `configure`: push the cube, submit the job, stream
// its output live, pull the outputs back. `run` exits with the task's exit
// code.

#include <optional>
#include <ostream>
#include <string>

#include "controller/commands/cube_options.h"
#include "controller/commands/run_sweep.h"
#include "controller/hosts/hosts_file.h"
#include "controller/terminal/console.h"

namespace CLI {
class App;
}

namespace mlcube {

struct RunCommandOptions {
  CubeOptions cube;
  HostsLookup hosts_lookup;                  // --hosts and the environment
  std::optional<std::string> sync_features;  // $MLCUBE_REMOTE_SYNC_FEATURES
  std::string host;
  std::string task;  // "a,b" or an older layout's run/TASK.yaml
  std::string gpus;
  // --stage=PATH[:DEST] (Slurm hosts).
  std::vector<std::string> stage;
  bool detach = false;
  bool cancel_on_interrupt = false;
  bool no_pull = false;
  std::string ranks;  // --ranks=LIST: the lines of these ranks only
  // --nodes=N: one job across the first N hosts of --host (run_gang.h).
  int nodes = 0;
  int master_port = 0;          // --master-port (with --nodes); 0: derived
  int start_timeout_s = 600;    // --start-timeout (with --nodes)
  bool configure_only = false;  // the `configure` command
  bool dry_run = false;         // print what the agent would run; start nothing
  bool json = false;            // with dry_run: one JSON object
  SweepOptions sweep;
};

void AddRunOptions(CLI::App* command, RunCommandOptions* options, bool is_run);

int RunRunCommand(const RunCommandOptions& options, const Console& console);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_COMMANDS_RUN_COMMAND_H_
