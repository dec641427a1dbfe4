#ifndef MLCUBE_REMOTE_CONTROLLER_INSTALL_AGENT_INSTALLER_H_
#define MLCUBE_REMOTE_CONTROLLER_INSTALL_AGENT_INSTALLER_H_

// Installs, upgrades, inspects, stops and removes the agent of an `ssh:`
// host over the same SSH transport `run` uses (libssh, strict known_hosts):
//
//   user scope (default): ~/.local/lib/mlcube-remote/VERSION, config
//     ~/.config/mlcube-agent/agent.yaml, state ~/.local/state/mlcube-remote,
//     socket 0600; a `systemctl --user` service where the host has user
//     systemd, otherwise a detached process with a pid file;
//   system scope (--system; root or passwordless sudo there):
//     /usr/local/lib/mlcube-remote/VERSION, the service user, /var/lib/mlcube-agent,
//     /etc/systemd/system/mlcube-agent.service (KillMode=process), enabled.
//
// The host-side work is agent_host_script.sh; the upload is one SSH command
// (`cat` into a private temp dir), its SHA-256 checked there before it is
// unpacked beside older versions and made current with one rename. Every
// step prints one line saying what it did; a second install changes nothing.

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "controller/hosts/hosts_file.h"
#include "controller/install/agent_bundle.h"
#include "controller/install/agent_host_script.h"
#include "controller/terminal/console.h"

namespace mlcube {

class AgentInstaller {
 public:
  // `bundles`: where to look for the agent bundle (see FindAgentBundle).
  AgentInstaller(HostEntry host, AgentScope scope, AgentBundlePlaces bundles,
                 const Console& console);

  // Installs this controller's agent version and starts it. `upgrade`:
  // something must be installed already; a running older agent is restarted
  // into the new one (its jobs go on: supervisors are not its children).
  absl::Status Install(bool upgrade);
  // What is installed and running, one fact a line.
  absl::Status Status(std::ostream& out);
  absl::Status Stop();
  // Stops the agent, removes its unit, versions and config; keeps its state.
  absl::Status Uninstall();

 private:
  class Session;
  absl::Status CheckHost(const AgentHostReport& probe, bool* use_sudo);
  // Tells which container engines the host has; where Podman stands in for
  // a missing Docker, says so.
  void SayEngines(const AgentHostReport& probe) const;
  absl::StatusOr<std::string> Upload(Session& session, const std::string& arch,
                                     const AgentHostReport& probe, std::string* sha256);
  absl::Status CheckAgentAnswers();
  // stop or uninstall, through sudo where the system scope needs it.
  absl::Status RunAction(const std::string& action);
  void Say(const AgentHostReport& report) const;

  HostEntry host_;
  AgentScope scope_;
  AgentBundlePlaces bundles_;
  const Console& console_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_INSTALL_AGENT_INSTALLER_H_
