#ifndef MLCUBE_REMOTE_CONTROLLER_INSTALL_USER_AGENT_SOCKET_H_
#define MLCUBE_REMOTE_CONTROLLER_INSTALL_USER_AGENT_SOCKET_H_

// The user's own agent on an `ssh:` host without `agent_socket`: installed
// by `mlcube-remote agent install` under their home, started here when it is
// installed but not running (one line on stderr says so), its socket path
// returned for the tunnel.

#include <string>

#include "absl/status/statusor.h"
#include "controller/transport/ssh_session.h"

namespace mlcube {

// `host_name` is the hosts-file name, for the commands the messages name.
// FAILED_PRECONDITION when no agent is installed there (the message is the
// command that installs it) or when it cannot be started. Warns on stderr
// when the installed agent is not this controller's version.
absl::StatusOr<std::string> EnsureUserAgentSocket(SshSession& session,
                                                  const std::string& host_name);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_INSTALL_USER_AGENT_SOCKET_H_
