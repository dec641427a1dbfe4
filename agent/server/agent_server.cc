#include "agent/server/agent_server.h"

#include <arpa/inet.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/server/call_observer_interceptor.h"
#include "agent/server/caller_identity.h"
#include "agent/server/request_log_interceptor.h"

namespace mlcube {
namespace {

// A TCP connection that has made no call this long after it was accepted
// (its TLS handshake included) is closed: until its first call nobody knows
// whose it is. gRPC clients call right after connecting.
constexpr std::chrono::seconds kFirstCallDeadline(10);

}  // namespace

bool IsLoopbackAddress(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") return true;
  in_addr a4{};
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
  return false;
}

AgentServer::AgentServer(std::vector<std::string> listen_addresses)
    : addresses_(std::move(listen_addresses)) {}

AgentServer::~AgentServer() { Shutdown(); }

void AgentServer::RegisterService(grpc::Service* service) { services_.push_back(service); }

void AgentServer::SetTcpSecurity(std::shared_ptr<grpc::ServerCredentials> tls,
                                 bool allow_insecure_loopback) {
  tls_ = std::move(tls);
  allow_insecure_loopback_ = allow_insecure_loopback;
}

void AgentServer::SetUnixSocketAccess(mode_t mode, gid_t group) {
  unix_mode_ = mode;
  unix_group_ = group;
}

void AgentServer::SetConnectionLimits(int per_caller, int idle_seconds) {
  connections_per_uid_ = per_caller;
  idle_seconds_ = idle_seconds;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> AgentServer::TcpCredentials(
    const std::string& address) const {
  if (tls_) return tls_;
  if (!IsLoopbackAddress(address)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen: '", address,
        "' is not a loopback address: plain TCP would let anyone on the network run "
        "containers as this agent's user. Configure mutual TLS (tls: {ca, cert, key}; "
        "`mlcube-agent certs init` makes them), or reach the agent through the SSH transport "
        "or the unix socket"));
  }
  if (!allow_insecure_loopback_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen: '", address,
        "': plain TCP without TLS needs --insecure (for tests on loopback only); configure "
        "mutual TLS (tls: {ca, cert, key}) or use the unix socket"));
  }
  return grpc::InsecureServerCredentials();
}

absl::Status AgentServer::AddTcpListener(const std::string& address, grpc::ServerBuilder& builder) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = TcpCredentials(address);
  if (!credentials.ok()) return credentials.status();
  auto listener = std::make_unique<TcpListener>(address, limiter_.get(), kFirstCallDeadline);
  if (absl::Status bound = listener->Bind(); !bound.ok()) return bound;
  tcp_acceptors_.push_back(builder.experimental().AddExternalConnectionAcceptor(
      grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD, *credentials));
  tcp_ports_.push_back(listener->port());
  tcp_listeners_.push_back(std::move(listener));
  return absl::OkStatus();
}

void AgentServer::AddInterceptor(
    std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> factory) {
  interceptors_.push_back(std::move(factory));
}

void AgentServer::ObserveCall(const grpc::ServerContextBase& context) {
  if (tcp_listeners_.empty()) return;
  const std::string peer = context.peer();
  for (auto& listener : tcp_listeners_) {
    listener->OnCall(peer, [&context] { return CallerIdentity(context); });
  }
}

absl::Status AgentServer::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  if (idle_seconds_ > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, idle_seconds_ * 1000);
  }
  // A TLS handshake gets no longer than a connection has for its first call.
  builder.AddChannelArgument(
      GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
      static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(kFirstCallDeadline).count()));
  limiter_ = std::make_unique<ConnectionLimiter>(
      BudgetForDescriptors(connections_per_uid_, RaiseOpenFileLimit()));
  for (const std::string& address : addresses_) {
    if (absl::StartsWith(address, "unix://")) {
      auto listener = std::make_unique<UnixSocketListener>(address.substr(7), unix_mode_,
                                                           unix_group_, limiter_.get());
      absl::Status s = listener->Bind();
      if (!s.ok()) return s;
      unix_listeners_.push_back(std::move(listener));
      continue;
    }
    if (absl::Status added = AddTcpListener(address, builder); !added.ok()) return added;
  }
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> observers;
  observers.push_back(std::make_unique<CallObserverInterceptorFactory>(
      [this](const grpc::ServerContextBase& context) { ObserveCall(context); }));
  // After the observer: a TCP caller's identity is known by then.
  observers.push_back(std::make_unique<RequestLogInterceptorFactory>());
  for (auto& interceptor : interceptors_) observers.push_back(std::move(interceptor));
  interceptors_.clear();
  builder.experimental().SetInterceptorCreators(std::move(observers));
  for (grpc::Service* service : services_) builder.RegisterService(service);
  server_ = builder.BuildAndStart();
  if (!server_) return absl::UnavailableError("gRPC server failed to start");
  for (size_t i = 0; i < tcp_listeners_.size(); ++i) {
    if (absl::Status s = tcp_listeners_[i]->Start(tcp_acceptors_[i].get()); !s.ok()) return s;
  }
  for (auto& listener : unix_listeners_) {
    if (absl::Status started = listener->Start(server_.get()); !started.ok()) return started;
  }
  return absl::OkStatus();
}

void AgentServer::Wait() {
  if (server_) server_->Wait();
}

void AgentServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  for (auto& listener : unix_listeners_) listener->Stop();
  for (auto& listener : tcp_listeners_) listener->Stop();
  if (server_) {
    // Watch streams end promptly; the jobs themselves keep running.
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
}

}  // namespace mlcube
