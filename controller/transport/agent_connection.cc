#include "controller/transport/agent_connection.h"

#include <stdlib.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "controller/transport/request_id.h"

namespace mlcube {
namespace {

absl::StatusOr<std::string> ReadWholeFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(what, ": cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

grpc::ChannelArguments DefaultChannelArguments() {
  grpc::ChannelArguments args;
  // Notice a dead link (laptop asleep, cable pulled) in seconds, not at the
  // TCP timeout, so `run` and `logs -f` can reconnect and resume.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Reconnect quickly after an agent restart. (Not through
  // GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC also takes it as the minimum
  // time a connection attempt may take, and at 200 ms a TLS handshake plus
  // the HTTP/2 settings over an 80 ms link never made it.)
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  return args;
}

}  // namespace

AgentConnection::AgentConnection(HostAddress host, std::shared_ptr<grpc::Channel> channel,
                                 std::unique_ptr<SshTunnel> tunnel, std::string request_id)
    : host_(std::move(host)),
      request_id_(std::move(request_id)),
      tunnel_(std::move(tunnel)),
      channel_(std::move(channel)),
      agent_(mlcube_remote::v1::Agent::NewStub(channel_)),
      content_store_(mlcube_remote::v1::ContentStore::NewStub(channel_)),
      workspaces_(mlcube_remote::v1::Workspaces::NewStub(channel_)),
      jobs_(mlcube_remote::v1::Jobs::NewStub(channel_)) {}

absl::StatusOr<std::unique_ptr<AgentConnection>> AgentConnection::Open(
    const HostAddress& host, const OwnAgentResolver& own_agent) {
  if (host.has_ssh) {
    SshTunnel::Options options;
    options.ssh = host.ssh;
    options.remote = host.agent_socket;
    if (options.remote.empty()) {
      if (!own_agent) {
        return absl::InvalidArgumentError(
            absl::StrCat("host '", host.name, "': no agent_socket, and no way to find its agent"));
      }
      // No agent_socket: the user's own agent, started if it is not running.
      options.resolve_remote = [own_agent, name = host.name](SshSession& session) {
        return own_agent(session, name);
      };
    }
    options.ssh_dir = host.ssh.config_dir;
    absl::StatusOr<std::unique_ptr<SshTunnel>> tunnel = SshTunnel::Open(std::move(options));
    if (!tunnel.ok()) {
      return absl::Status(tunnel.status().code(),
                          absl::StrCat("host '", host.name, "': ", tunnel.status().message()));
    }
    // The tunnel already authenticated the user; the local hop is a private
    // unix socket, so the gRPC channel itself is plain.
    const std::string request_id = NewRequestId();
    std::shared_ptr<grpc::Channel> channel =
        CreateChannelWithRequestId((*tunnel)->grpc_target(), grpc::InsecureChannelCredentials(),
                                   DefaultChannelArguments(), request_id);
    return std::unique_ptr<AgentConnection>(
        new AgentConnection(host, std::move(channel), std::move(*tunnel), request_id));
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (host.has_tls) {
    grpc::SslCredentialsOptions tls;
    absl::StatusOr<std::string> ca = ReadWholeFile(host.tls.ca, "hosts." + host.name + ".tls.ca");
    if (!ca.ok()) return ca.status();
    absl::StatusOr<std::string> cert =
        ReadWholeFile(host.tls.cert, "hosts." + host.name + ".tls.cert");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key =
        ReadWholeFile(host.tls.key, "hosts." + host.name + ".tls.key");
    if (!key.ok()) return key.status();
    tls.pem_root_certs = *ca;
    tls.pem_cert_chain = *cert;
    tls.pem_private_key = *key;
    credentials = grpc::SslCredentials(tls);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  const std::string request_id = NewRequestId();
  std::shared_ptr<grpc::Channel> channel =
      CreateChannelWithRequestId(host.address, credentials, DefaultChannelArguments(), request_id);
  return std::unique_ptr<AgentConnection>(
      new AgentConnection(host, std::move(channel), nullptr, request_id));
}

std::string AgentConnection::Describe() const {
  if (tunnel_) return absl::StrCat(host_.name, " (", tunnel_->description(), ")");
  return absl::StrCat(host_.name, " (", host_.address, ")");
}

std::unique_ptr<grpc::ClientContext> AgentConnection::Context(std::chrono::milliseconds timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  return context;
}

std::string RequestIdLine(const AgentConnection& connection) {
  return absl::StrCat(connection.Describe(), ": request id ", connection.request_id());
}

}  // namespace mlcube
