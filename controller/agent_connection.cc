#include "controller/agent_connection.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

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
  // Reconnect quickly after an agent restart.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  return args;
}

}  // namespace

AgentConnection::AgentConnection(HostEntry host, std::shared_ptr<grpc::Channel> channel)
    : host_(std::move(host)),
      channel_(std::move(channel)),
      agent_(mlcube_remote::v1::Agent::NewStub(channel_)),
      content_store_(mlcube_remote::v1::ContentStore::NewStub(channel_)),
      workspaces_(mlcube_remote::v1::Workspaces::NewStub(channel_)),
      jobs_(mlcube_remote::v1::Jobs::NewStub(channel_)) {}

absl::StatusOr<std::unique_ptr<AgentConnection>> AgentConnection::Open(const HostEntry& host) {
  if (host.has_ssh) {
    return absl::UnimplementedError(
        absl::StrCat("host '", host.name, "': the ssh transport is not available yet"));
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
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(host.address, credentials, DefaultChannelArguments());
  return std::unique_ptr<AgentConnection>(new AgentConnection(host, std::move(channel)));
}

std::string AgentConnection::Describe() const {
  return absl::StrCat(host_.name, " (", host_.address, ")");
}

std::unique_ptr<grpc::ClientContext> AgentConnection::Context(std::chrono::milliseconds timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  return context;
}

}  // namespace mlcube
