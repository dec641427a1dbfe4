#ifndef MLCUBE_REMOTE_CONTROLLER_INSTALL_AGENT_HOST_SCRIPT_H_
#define MLCUBE_REMOTE_CONTROLLER_INSTALL_AGENT_HOST_SCRIPT_H_

// The host side of installing and starting agents: agent_host_script.sh,
// compiled into the controller and run over SSH with `/bin/sh -s` (whatever
// the user's login shell is), through `sudo -n` for the system agent when
// the SSH user is not root. The script's header lists its actions and its
// output lines; this class runs one action and parses them.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/transport/ssh_session.h"

namespace mlcube {

struct AgentHostReport {
  // "say" lines: what the script did, for the user, in order.
  std::vector<std::string> said;
  // "kv" lines: facts for the controller (probe, status, ensure).
  std::map<std::string, std::string> values;

  // The value of `key`, empty when absent.
  std::string Get(const std::string& key) const;
};

enum class AgentScope { kUser, kSystem };

class AgentHostScript {
 public:
  // Runs `action` with `args` (letters, digits and ._/:=+- only: they pass
  // through the login shell) for the given scope. `use_sudo` prefixes
  // `sudo -n`. The script's own "error" line becomes FAILED_PRECONDITION
  // "HOST: TEXT"; no answer at all is UNAVAILABLE with its stderr.
  static absl::StatusOr<AgentHostReport> Run(SshSession& session, AgentScope scope,
                                             const std::string& action,
                                             const std::vector<std::string>& args = {},
                                             bool use_sudo = false);

  // The script text (for tests and for shellcheck).
  static const char* Text();
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_INSTALL_AGENT_HOST_SCRIPT_H_
