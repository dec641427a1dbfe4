#ifndef MLCUBE_REMOTE_CONTROLLER_COMMANDS_AGENT_COMMAND_H_
#define MLCUBE_REMOTE_CONTROLLER_COMMANDS_AGENT_COMMAND_H_

// `mlcube-remote agent install|upgrade|status|stop|uninstall --host=H
// [--system]`: the agent of an ssh: host, per user by default (see
// controller/install/agent_installer.h).

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>

#include "controller/hosts/hosts_file.h"
#include "controller/terminal/console.h"

namespace mlcube {

struct AgentCommandOptions {
  HostsLookup hosts_lookup;    // --hosts and the environment
  std::string env_bundle_dir;  // $MLCUBE_REMOTE_BUNDLE_DIR
  std::string action;          // install, upgrade, status, stop, uninstall
  std::string host;
  bool system = false;
};

// Adds `agent` and its sub-commands to `app`; returns the `agent` command.
CLI::App* AddAgentCommand(CLI::App* app, AgentCommandOptions* options);

// Exit status: 0, kExitBadInput (bad host or hosts file), kExitAgentError
// (the host refused or the step failed).
int RunAgentCommand(const AgentCommandOptions& options, const Console& console, std::ostream& out);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_COMMANDS_AGENT_COMMAND_H_
