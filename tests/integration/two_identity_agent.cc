#include "tests/integration/two_identity_agent.h"

#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "agent/server/certs_init.h"
#include "agent/server/tls_certificate_factory.h"

namespace mlcube_test {

using ::mlcube::CertificateRequest;
using ::mlcube::PemKeyPair;
using ::mlcube::TlsCertificateFactory;
using ::mlcube::testing::CommandResult;
using ::mlcube::testing::ReadFileContent;
using ::mlcube::testing::RunCommand;

bool TwoIdentityAgent::Start() {
  certs_ = root_.path() + "/certs";
  CommandResult init = RunCommand({MLCUBE_AGENT_BIN, "certs", "init", "--dir=" + certs_,
                                   "--host=localhost", "--client-name=alice"});
  if (init.exit_code != 0) {
    ADD_FAILURE() << "certs init: " << init.err;
    return false;
  }
  // bob: another certificate from the same CA.
  PemKeyPair ca{ReadFileContent(certs_ + "/ca.key"), ReadFileContent(certs_ + "/ca.pem")};
  CertificateRequest request;
  request.common_name = "bob";
  auto bob = TlsCertificateFactory::MakeLeaf(ca, request);
  if (!bob.ok() || !mlcube::WriteNewFile(certs_ + "/bob.key", bob->key, 0600).ok() ||
      !mlcube::WriteNewFile(certs_ + "/bob.pem", bob->cert, 0644).ok()) {
    ADD_FAILURE() << "making bob's certificate failed";
    return false;
  }
  root_.WriteFile("agent.yaml", "tls: {ca: " + certs_ + "/ca.pem, cert: " + certs_ +
                                    "/server.pem, key: " + certs_ + "/server.key}\n" +
                                    config_extra_ +
                                    // Certificate identities need a task uid on a shared agent.
                                    (config_extra_.find("task_users") == std::string::npos
                                         ? "task_users: {pool: \"3100000-3100099\"}\n"
                                         : ""));
  AgentProcessOptions options;
  options.extra_args = {"--config=" + root_.path() + "/agent.yaml", "--listen=127.0.0.1:0"};
  options.max_open_files = max_open_files_;
  options.state_dir = state_dir_;
  if (!agent_user_.empty()) {
    // The agent's own files become the agent user's; the clients run as
    // the test (root) and read theirs regardless.
    options.user = agent_user_;
    if (Shell("chmod 755 '" + root_.path() + "' && chown -R '" + agent_user_ + "' '" + certs_ +
              "' '" + root_.path() + "/agent.yaml'") != 0) {
      ADD_FAILURE() << "cannot hand the agent's files to " << agent_user_;
      return false;
    }
  }
  agent_ = std::make_unique<AgentProcess>(options);
  if (!agent_->Start()) return false;
  const int port = agent_->TcpPort();
  if (port < 0) return false;
  port_ = std::to_string(port);
  for (const char* user : {"alice", "bob"}) {
    const std::string stem = CertStem(user);
    root_.WriteFile(std::string(user) + ".yaml",
                    "default_host: gpu\nhosts:\n  gpu:\n    address: localhost:" + port_ +
                        "\n    tls: {ca: " + certs_ + "/ca.pem, cert: " + certs_ + "/" + stem +
                        ".pem, key: " + certs_ + "/" + stem + ".key}\n" +
                        (host_runtime_.empty() ? "" : "    runtime: " + host_runtime_ + "\n"));
  }
  return true;
}

CommandResult TwoIdentityAgent::As(const std::string& user,
                                   const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {MLCUBE_REMOTE_BINARY,
                                   "--hosts=" + root_.path() + "/" + user + ".yaml"};
  argv.insert(argv.end(), args.begin(), args.end());
  // Each user has their own scan cache, as on two laptops.
  return RunCommand(argv, {"NO_COLOR=1", "XDG_CACHE_HOME=" + root_.path() + "/cache-" + user}, 120);
}

std::shared_ptr<grpc::Channel> TwoIdentityAgent::Channel(const std::string& user,
                                                         bool own_connection) const {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadFileContent(certs_ + "/ca.pem");
  tls.pem_private_key = ReadFileContent(certs_ + "/" + CertStem(user) + ".key");
  tls.pem_cert_chain = ReadFileContent(certs_ + "/" + CertStem(user) + ".pem");
  grpc::ChannelArguments args;
  if (own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("localhost:" + port_, grpc::SslCredentials(tls), args);
}

uid_t TwoIdentityAgent::TaskUid(const std::string& identity) const {
  const std::string list = ReadFileContent(agent_->state_dir() + "/task_users.list");
  const size_t at = list.find(identity + " ");
  uint32_t uid = 0;
  if (at == std::string::npos) return 0;
  const size_t start = at + identity.size() + 1;
  EXPECT_TRUE(absl::SimpleAtoi(list.substr(start, list.find('\n', start) - start), &uid)) << list;
  return uid;
}

}  // namespace mlcube_test
