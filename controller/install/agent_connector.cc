#include "controller/install/agent_connector.h"

#include "controller/install/user_agent_socket.h"

namespace mlcube {

absl::StatusOr<std::unique_ptr<AgentConnection>> ConnectToAgent(const HostAddress& host) {
  return AgentConnection::Open(host, EnsureUserAgentSocket);
}

}  // namespace mlcube
