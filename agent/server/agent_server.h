#ifndef MLCUBE_REMOTE_AGENT_SERVER_AGENT_SERVER_H_
#define MLCUBE_REMOTE_AGENT_SERVER_AGENT_SERVER_H_

// The agent's gRPC server: listens on unix sockets ("unix:///path") and
// TCP ("HOST:PORT": mutual TLS, or plain on loopback for tests), with server
// reflection and the standard health service on, so generic gRPC tools work
// against it. Both kinds of listener accept connections themselves and
// charge each to its caller (limits.connections: UnixSocketListener by uid,
// TcpListener by source address until the first call, then by identity).

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/server/tcp_listener.h"
#include "agent/server/unix_socket_listener.h"

namespace mlcube {

class AgentServer {
 public:
  explicit AgentServer(std::vector<std::string> listen_addresses);
  ~AgentServer();
  AgentServer(const AgentServer&) = delete;
  AgentServer& operator=(const AgentServer&) = delete;

  // Adds a service; call before Start. Not owned: it must outlive the server.
  void RegisterService(grpc::Service* service);

  // With `tls` (mutual TLS, see agent/tls_server_credentials.h) every TCP
  // address is served with it. Without, plain TCP would let anyone on the
  // network run containers as the agent's user: it is refused, except on
  // loopback when `allow_insecure_loopback` (the --insecure flag, tests).
  // Call before Start.
  void SetTcpSecurity(std::shared_ptr<grpc::ServerCredentials> tls, bool allow_insecure_loopback);
  // Mode and group of the unix sockets (see UnixSocketListener).
  void SetUnixSocketAccess(mode_t mode, gid_t group);

  // Live connections per caller (uid on the unix sockets; certificate
  // identity, or source address before the first call, on TCP; 0: no cap;
  // see ConnectionLimiter) and how long a connection without calls stays
  // open (0: forever). Call before Start.
  void SetConnectionLimits(int per_caller, int idle_seconds);

  // An interceptor every call also goes through (after the agent's own
  // call observer), e.g. metrics. Call before Start.
  void AddInterceptor(
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> factory);

  // Raises the soft RLIMIT_NOFILE to the hard limit, keeps a share of it
  // out of reach of connections, binds every address and starts serving; refuses TCP addresses as
  // SetTcpSecurity says.
  absl::Status Start();

  // Blocks until Shutdown.
  void Wait();
  void Shutdown();

  // Ports bound for TCP addresses, in the order given ("HOST:0" picks one).
  const std::vector<int>& tcp_ports() const { return tcp_ports_; }

 private:
  std::vector<std::string> addresses_;
  std::vector<grpc::Service*> services_;
  // The credentials TCP `address` is served with, or why it may not be.
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TcpCredentials(
      const std::string& address) const;
  // Binds a TcpListener for `address`; its acceptor joins `builder`.
  absl::Status AddTcpListener(const std::string& address, grpc::ServerBuilder& builder);
  // Tells the TCP listeners about a call (who holds which connection).
  void ObserveCall(const grpc::ServerContextBase& context);

  // Every listener's connections, against one descriptor budget; outlives
  // the listeners.
  std::unique_ptr<ConnectionLimiter> limiter_;
  std::vector<std::unique_ptr<UnixSocketListener>> unix_listeners_;
  std::vector<std::unique_ptr<TcpListener>> tcp_listeners_;
  std::vector<std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor>> tcp_acceptors_;
  std::vector<int> tcp_ports_;
  std::shared_ptr<grpc::ServerCredentials> tls_;
  bool allow_insecure_loopback_ = false;
  mode_t unix_mode_ = 0666;
  gid_t unix_group_ = static_cast<gid_t>(-1);
  int connections_per_uid_ = 256;
  int idle_seconds_ = 300;
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors_;
  std::unique_ptr<grpc::Server> server_;
  bool shut_down_ = false;
};

// True for "localhost", 127.0.0.0/8 and ::1 hosts of a "HOST:PORT" address.
bool IsLoopbackAddress(const std::string& host_port);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SERVER_AGENT_SERVER_H_
