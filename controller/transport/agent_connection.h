#ifndef MLCUBE_REMOTE_CONTROLLER_TRANSPORT_AGENT_CONNECTION_H_
#define MLCUBE_REMOTE_CONTROLLER_TRANSPORT_AGENT_CONNECTION_H_

// One gRPC channel to one host's agent, built from its hosts-file entry, and
// the stubs of every v1 service on it. The channel reconnects by itself; a
// dropped link is noticed through keepalive pings within seconds.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "controller/transport/host_address.h"
#include "controller/transport/ssh_tunnel.h"
#include "mlcube_remote/v1/agent.grpc.pb.h"
#include "mlcube_remote/v1/content_store.grpc.pb.h"
#include "mlcube_remote/v1/jobs.grpc.pb.h"
#include "mlcube_remote/v1/workspace.grpc.pb.h"

namespace mlcube {

class AgentConnection {
 public:
  // Finds the socket of the user's own agent on an `ssh:` host without
  // `agent_socket` (and starts that agent when it is installed but not
  // running), over the host's SSH session; `host_name` is the hosts-file
  // name. install/'s EnsureUserAgentSocket is the one the CLI uses.
  using OwnAgentResolver =
      std::function<absl::StatusOr<std::string>(SshSession& session, const std::string& host_name)>;

  // Fails (INVALID_ARGUMENT / NOT_FOUND, naming the file) when TLS files
  // cannot be read; does not contact the agent, except through SSH: there the
  // tunnel connects and authenticates now (see SshTunnel::Open). An `ssh:`
  // host without `agent_socket` needs `own_agent`.
  static absl::StatusOr<std::unique_ptr<AgentConnection>> Open(
      const HostAddress& host, const OwnAgentResolver& own_agent = nullptr);

  const HostAddress& host() const { return host_; }
  // What the user sees in messages: "gpu01 (unix:///run/...)".
  std::string Describe() const;

  mlcube_remote::v1::Agent::Stub& agent() { return *agent_; }
  mlcube_remote::v1::ContentStore::Stub& content_store() { return *content_store_; }
  mlcube_remote::v1::Workspaces::Stub& workspaces() { return *workspaces_; }
  mlcube_remote::v1::Jobs::Stub& jobs() { return *jobs_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  // The x-request-id every call of this connection carries (request_id.h):
  // what to look for in the agent's log.
  const std::string& request_id() const { return request_id_; }

  // A context with a deadline `timeout` from now.
  static std::unique_ptr<grpc::ClientContext> Context(std::chrono::milliseconds timeout);

 private:
  AgentConnection(HostAddress host, std::shared_ptr<grpc::Channel> channel,
                  std::unique_ptr<SshTunnel> tunnel, std::string request_id);

  HostAddress host_;
  std::string request_id_;
  // Set for `ssh:` hosts; the channel connects to its local socket, so it
  // must live as long as the channel is used.
  std::unique_ptr<SshTunnel> tunnel_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<mlcube_remote::v1::Agent::Stub> agent_;
  std::unique_ptr<mlcube_remote::v1::ContentStore::Stub> content_store_;
  std::unique_ptr<mlcube_remote::v1::Workspaces::Stub> workspaces_;
  std::unique_ptr<mlcube_remote::v1::Jobs::Stub> jobs_;
};

// "gpu01 (...): request id 0123456789abcdef": for -v, what to look for in
// the agent's log.
std::string RequestIdLine(const AgentConnection& connection);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_TRANSPORT_AGENT_CONNECTION_H_
