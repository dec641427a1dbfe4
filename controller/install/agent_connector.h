#ifndef MLCUBE_REMOTE_CONTROLLER_INSTALL_AGENT_CONNECTOR_H_
#define MLCUBE_REMOTE_CONTROLLER_INSTALL_AGENT_CONNECTOR_H_

// How every command reaches a host's agent: AgentConnection::Open, with the
// user's own agent on an `ssh:` host without `agent_socket` found (and
// started when installed but not running) by EnsureUserAgentSocket.

#include <memory>

#include "absl/status/statusor.h"
#include "controller/transport/agent_connection.h"
#include "controller/transport/host_address.h"

namespace mlcube {

absl::StatusOr<std::unique_ptr<AgentConnection>> ConnectToAgent(const HostAddress& host);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_INSTALL_AGENT_CONNECTOR_H_
