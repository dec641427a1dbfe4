#include "controller/commands/agent_command.h"

#include "controller/hosts/hosts_file.h"
#include "controller/install/agent_installer.h"
#include "controller/terminal/exit_codes.h"

namespace mlcube {

CLI::App* AddAgentCommand(CLI::App* app, AgentCommandOptions* options) {
  CLI::App* agent = app->add_subcommand(
      "agent", "Install, upgrade, inspect, stop or remove the agent of an ssh: host");
  agent->require_subcommand(1);
  const struct {
    const char* name;
    const char* help;
  } actions[] = {
      {"install", "Upload this controller's agent over SSH and start it (idempotent)"},
      {"upgrade", "Install this controller's agent beside the old one and restart into it"},
      {"status", "What is installed and running"},
      {"stop", "Stop the agent (running tasks go on)"},
      {"uninstall", "Stop the agent, remove its versions, config and unit (state is kept)"},
  };
  for (const auto& action : actions) {
    CLI::App* sub = agent->add_subcommand(action.name, action.help);
    sub->add_option("--host", options->host, "Host from the hosts file (needs an ssh: block)")
        ->required();
    sub->add_flag("--system", options->system,
                  "The system agent (root or sudo there) instead of your own");
    sub->callback([options, name = std::string(action.name)] { options->action = name; });
  }
  return agent;
}

int RunAgentCommand(const AgentCommandOptions& options, const Console& console, std::ostream& out) {
  HostsFile hosts;
  absl::StatusOr<HostEntry> host = LoadHost(options.hosts_lookup, options.host, &hosts);
  if (!host.ok()) {
    console.Error(host.status().message());
    return kExitBadInput;
  }
  AgentInstaller installer(*host, options.system ? AgentScope::kSystem : AgentScope::kUser,
                           {options.env_bundle_dir, hosts.agent_bundle_dir}, console);
  absl::Status done;
  if (options.action == "install" || options.action == "upgrade") {
    done = installer.Install(options.action == "upgrade");
  } else if (options.action == "status") {
    done = installer.Status(out);
  } else if (options.action == "stop") {
    done = installer.Stop();
  } else {
    done = installer.Uninstall();
  }
  if (!done.ok()) {
    console.Error(done.message());
    return done.code() == absl::StatusCode::kInvalidArgument ? kExitBadInput : kExitAgentError;
  }
  return kExitOk;
}

}  // namespace mlcube
