// Mutual TLS between controller and agent against a real agent process: a
// valid client certificate works (and names the caller), while no
// certificate, a certificate from another CA and an expired one are refused.
// Also `mlcube-agent certs init` and the agent's refusal to serve plain TCP.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include "agent/server/tls_certificate_factory.h"
#include "mlcube_remote/v1/agent.grpc.pb.h"
#include "tests/integration/agent_process.h"
#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"

namespace mlcube_test {
namespace {

using ::mlcube::CertificateRequest;
using ::mlcube::PemKeyPair;
using ::mlcube::TlsCertificateFactory;
using ::mlcube::testing::CommandResult;
using ::mlcube::testing::RunCommand;
using ::mlcube::testing::TempDir;
using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

PemKeyPair ReadPair(const std::string& dir, const std::string& stem) {
  return {ReadFile(dir + "/" + stem + ".key"), ReadFile(dir + "/" + stem + ".pem")};
}

PemKeyPair Client(const PemKeyPair& ca, const std::string& cn, int64_t not_before = -300,
                  int64_t valid = 3600) {
  CertificateRequest request;
  request.common_name = cn;
  request.usage = CertificateRequest::Usage::kClient;
  request.not_before_offset_seconds = not_before;
  request.valid_seconds = valid;
  auto pair = TlsCertificateFactory::MakeLeaf(ca, request);
  EXPECT_TRUE(pair.ok()) << pair.status();
  return pair.ok() ? *pair : PemKeyPair{};
}

// An agent (as the test user) serving its unix socket and mutual TLS on a
// loopback port, with certificates from `certs init`.
class TlsTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chmod(root_.path().c_str(), 0755);
    certs_ = root_.path() + "/certs";
    CommandResult init =
        RunCommand({MLCUBE_AGENT_BIN, "certs", "init", "--dir=" + certs_, "--host=gpu01.test",
                    "--host=10.99.0.2", "--client-name=alice"});
    ASSERT_EQ(init.exit_code, 0) << init.out << init.err;
    init_output_ = init.out;
    ca_ = ReadPair(certs_, "ca");
    root_.WriteFile("agent.yaml", "tls: {ca: " + certs_ + "/ca.pem, cert: " + certs_ +
                                      "/server.pem, key: " + certs_ + "/server.key}\n");
  }

  bool StartAgent() {
    AgentProcessOptions options;
    options.extra_args = {"--config=" + root_.path() + "/agent.yaml", "--listen=127.0.0.1:0"};
    agent_ = std::make_unique<AgentProcess>(options);
    if (!agent_->Start()) return false;
    port_ = agent_->TcpPort();
    return port_ > 0;
  }

  // GetInfo over TLS presenting `client` (no certificate when empty).
  grpc::Status CallWith(const PemKeyPair& client, std::string* identity = nullptr) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ca_.cert;
    tls.pem_cert_chain = client.cert;
    tls.pem_private_key = client.key;
    auto channel =
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), grpc::SslCredentials(tls));
    mlcube_remote::v1::Agent::Stub stub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    mlcube_remote::v1::AgentInfo info;
    grpc::Status status = stub.GetInfo(&context, {}, &info);
    if (identity != nullptr) *identity = info.caller_identity();
    return status;
  }

  TempDir root_;
  std::string certs_;
  std::string init_output_;
  PemKeyPair ca_;
  std::unique_ptr<AgentProcess> agent_;
  int port_ = 0;
};

TEST_F(TlsTransportTest, CertsInitWritesPrivateKeysAndServerNames) {
  for (const char* key : {"ca.key", "server.key", "client.key"}) {
    struct stat st {};
    ASSERT_EQ(stat((certs_ + "/" + key).c_str(), &st), 0) << key;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << key;
  }
  struct stat dir {};
  ASSERT_EQ(stat(certs_.c_str(), &dir), 0);
  EXPECT_EQ(dir.st_mode & 0777, 0700u);
  EXPECT_THAT(init_output_, HasSubstr("tls: {ca: " + certs_ + "/ca.pem"));
  EXPECT_THAT(init_output_, HasSubstr("'cn-alice'"));

  const std::string pem = ReadFile(certs_ + "/server.pem");
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* server = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(X509_check_host(server, "gpu01.test", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(server, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(server, "10.99.0.2", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(server, "127.0.0.1", 0), 1);
  EXPECT_NE(X509_check_host(server, "other.test", 0, 0, nullptr), 1);
  X509_free(server);

  // Never overwrites keys.
  CommandResult again =
      RunCommand({MLCUBE_AGENT_BIN, "certs", "init", "--dir=" + certs_, "--host=gpu01.test"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_THAT(again.err, HasSubstr("never overwrites"));
}

TEST_F(TlsTransportTest, ValidClientCertificateWorksAndNamesTheCaller) {
  ASSERT_TRUE(StartAgent());
  std::string identity;
  grpc::Status status = CallWith(ReadPair(certs_, "client"), &identity);
  ASSERT_TRUE(status.ok()) << status.error_message() << agent_->Stderr();
  EXPECT_EQ(identity, "cn-alice");
  // Another certificate of the same CA is another identity.
  status = CallWith(Client(ca_, "bob"), &identity);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(identity, "cn-bob");
}

TEST_F(TlsTransportTest, CertsClientIssuesAnotherIdentity) {
  CommandResult issue =
      RunCommand({MLCUBE_AGENT_BIN, "certs", "client", "--dir=" + certs_, "--name=carol"});
  ASSERT_EQ(issue.exit_code, 0) << issue.err;
  EXPECT_THAT(issue.out, HasSubstr("'cn-carol'"));
  struct stat st {};
  ASSERT_EQ(stat((certs_ + "/carol.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(StartAgent());
  std::string identity;
  grpc::Status status = CallWith(ReadPair(certs_, "carol"), &identity);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(identity, "cn-carol");
  // Never overwrites; a name that is not a safe identity is refused.
  EXPECT_NE(RunCommand({MLCUBE_AGENT_BIN, "certs", "client", "--dir=" + certs_, "--name=carol"})
                .exit_code,
            0);
  CommandResult unsafe =
      RunCommand({MLCUBE_AGENT_BIN, "certs", "client", "--dir=" + certs_, "--name=../x"});
  EXPECT_NE(unsafe.exit_code, 0);
  EXPECT_THAT(unsafe.err, HasSubstr("not usable as an identity"));
}

TEST_F(TlsTransportTest, HostsCommandUsesTheHostsFileTlsBlock) {
  ASSERT_TRUE(StartAgent());
  root_.WriteFile("hosts.yaml", "default_host: gpu\nhosts:\n  gpu:\n    address: 127.0.0.1:" +
                                    std::to_string(port_) + "\n    tls: {ca: " + certs_ +
                                    "/ca.pem, cert: " + certs_ + "/client.pem, key: " + certs_ +
                                    "/client.key}\n");
  CommandResult result = RunCommand(
      {MLCUBE_REMOTE_BINARY, "hosts", "--hosts=" + root_.path() + "/hosts.yaml"}, {"NO_COLOR=1"});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_THAT(result.out, ::testing::ContainsRegex("gpu\\* +up "));
}

TEST_F(TlsTransportTest, ClientWithoutCertificateIsRefused) {
  ASSERT_TRUE(StartAgent());
  grpc::Status status = CallWith(PemKeyPair{});
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(TlsTransportTest, CertificateFromAnotherCaIsRefused) {
  ASSERT_TRUE(StartAgent());
  auto other_ca = TlsCertificateFactory::MakeCa("some other CA");
  ASSERT_TRUE(other_ca.ok());
  grpc::Status status = CallWith(Client(*other_ca, "alice"));
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(TlsTransportTest, ExpiredCertificateIsRefused) {
  ASSERT_TRUE(StartAgent());
  // Valid for one day, two days ago.
  grpc::Status status = CallWith(Client(ca_, "alice", -2 * 86400, 86400));
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  // The same CA's current certificate still works: it was the date.
  EXPECT_TRUE(CallWith(Client(ca_, "alice")).ok());
}

TEST_F(TlsTransportTest, UnsafeCommonNameIsNotAnIdentity) {
  ASSERT_TRUE(StartAgent());
  grpc::Status status = CallWith(Client(ca_, "../alice"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
}

TEST_F(TlsTransportTest, AgentRefusesBadTlsFiles) {
  // A key readable by everyone.
  chmod((certs_ + "/server.key").c_str(), 0644);
  CommandResult world_readable =
      RunCommand({MLCUBE_AGENT_BIN, "serve", "--config=" + root_.path() + "/agent.yaml",
                  "--state-dir=" + root_.path() + "/state", "--listen=127.0.0.1:0"},
                 {}, 20);
  EXPECT_NE(world_readable.exit_code, 0);
  EXPECT_THAT(world_readable.err, HasSubstr("chmod 600"));
  chmod((certs_ + "/server.key").c_str(), 0600);
  // The client key given as the server's: not the key of the certificate.
  root_.WriteFile("mismatch.yaml", "tls: {ca: " + certs_ + "/ca.pem, cert: " + certs_ +
                                       "/server.pem, key: " + certs_ + "/client.key}\n");
  CommandResult mismatch =
      RunCommand({MLCUBE_AGENT_BIN, "serve", "--config=" + root_.path() + "/mismatch.yaml",
                  "--state-dir=" + root_.path() + "/state", "--listen=127.0.0.1:0"},
                 {}, 20);
  EXPECT_NE(mismatch.exit_code, 0);
  EXPECT_THAT(mismatch.err, HasSubstr("is not the key of"));
}

TEST(TlsPolicyTest, PlainTcpNeedsInsecureAndLoopback) {
  TempDir state;
  CommandResult plain = RunCommand(
      {MLCUBE_AGENT_BIN, "serve", "--state-dir=" + state.path(), "--listen=127.0.0.1:0"}, {}, 20);
  EXPECT_NE(plain.exit_code, 0);
  EXPECT_THAT(plain.err, HasSubstr("needs --insecure"));
  CommandResult remote = RunCommand({MLCUBE_AGENT_BIN, "serve", "--state-dir=" + state.path(),
                                     "--listen=0.0.0.0:0", "--insecure"},
                                    {}, 20);
  EXPECT_NE(remote.exit_code, 0);
  EXPECT_THAT(remote.err, HasSubstr("not a loopback address"));
  EXPECT_THAT(remote.err, HasSubstr("mutual TLS"));
}

}  // namespace
}  // namespace mlcube_test
