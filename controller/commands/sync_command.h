#ifndef MLCUBE_REMOTE_CONTROLLER_COMMANDS_SYNC_COMMAND_H_
#define MLCUBE_REMOTE_CONTROLLER_COMMANDS_SYNC_COMMAND_H_

// `mlcube-remote sync push|pull`: moves a cube's files to a host's agent and
// workspace files back. The host comes from the hosts file (--host, else its
// default_host); without a hosts file, the built-in host `local` talks to
// $MLCUBE_REMOTE_AGENT or /run/mlcube-agent/agent.sock.

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "controller/commands/cube_options.h"
#include "controller/hosts/hosts_file.h"
#include "controller/terminal/console.h"

namespace CLI {
class App;
}

namespace mlcube {

struct SyncCommandOptions {
  CubeOptions cube;
  HostsLookup hosts_lookup;                  // --hosts and the environment
  std::optional<std::string> sync_features;  // $MLCUBE_REMOTE_SYNC_FEATURES
  std::string host;
  std::string agent;    // --agent=ADDR: this address instead of a hosts-file host
  std::string cube_id;  // default: SyncClient::DefaultCubeId
  bool dry_run = false;
  bool no_prune = false;
  bool timings = false;            // push: print each phase's wall time
  std::vector<std::string> paths;  // pull: workspace-relative paths
  std::string job_id;              // pull: the outputs of this job
  bool yes = false;                // delete: confirmed
  bool push = false;               // set by the subcommand parsed
  bool pull = false;
  bool remove = false;
};

// Registers `sync push`, `sync pull` and `sync delete` under `app`; returns the `sync`
// command (parsed() tells whether it ran).
CLI::App* AddSyncCommand(CLI::App* app, SyncCommandOptions* options);

// Runs the parsed command; the summary goes to `out`, messages to `console`.
// Returns the exit status.
int RunSyncCommand(const SyncCommandOptions& options, const Console& console, std::ostream& out);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_COMMANDS_SYNC_COMMAND_H_
