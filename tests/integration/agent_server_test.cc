// The daemon skeleton against a real agent process: start-up, config errors,
// GetInfo, caller identity of two different uids, health and reflection.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "mlcube_remote/v1/agent.grpc.pb.h"
#include "tests/integration/agent_process.h"

namespace mlcube_test {
namespace {

AgentProcessOptions AsUser(const std::string& user) {
  AgentProcessOptions options;
  options.user = user;
  return options;
}

TEST(AgentServerTest, GetInfoReportsVersionRuntimesAndCaller) {
  AgentProcess agent(AsUser("mlcube"));
  ASSERT_TRUE(agent.Start());
  mlcube_remote::v1::Agent::Stub stub(agent.Channel());
  grpc::ClientContext ctx;
  mlcube_remote::v1::AgentInfo info;
  ASSERT_TRUE(stub.GetInfo(&ctx, {}, &info).ok());
  EXPECT_EQ(info.protocol_version(), 1);
  EXPECT_EQ(info.agent_version(), MLCUBE_REMOTE_VERSION);
  EXPECT_FALSE(info.hostname().empty());
  EXPECT_GT(info.state_dir_free_bytes(), 0);
  // The test runs as root.
  EXPECT_EQ(info.caller_identity(), "uid-" + std::to_string(getuid()));
  bool has_docker = false;
  for (const auto& r : info.runtimes()) {
    if (r.name() == "docker") {
      has_docker = true;
      EXPECT_FALSE(r.version().empty());
      EXPECT_EQ(r.binary().front(), '/');
    }
  }
  EXPECT_TRUE(has_docker) << "docker not detected; install docker.io";
}

TEST(AgentServerTest, CallerIdentityDistinguishesUids) {
  AgentProcess agent(AsUser("mlcube"));
  ASSERT_TRUE(agent.Start());
  std::string as_root, as_nobody;
  ASSERT_EQ(Shell(std::string(AGENT_TEST_CLIENT_BIN) + " " + agent.socket_path(), &as_root), 0)
      << as_root;
  ASSERT_EQ(Shell("/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups " +
                      std::string(AGENT_TEST_CLIENT_BIN) + " " + agent.socket_path(),
                  &as_nobody),
            0)
      << as_nobody;
  EXPECT_EQ(as_root, "uid-0\n");
  EXPECT_EQ(as_nobody, "uid-65534\n");
}

TEST(AgentServerTest, HealthServiceAnswersServing) {
  AgentProcess agent;
  ASSERT_TRUE(agent.Start());
  // Generic tools call grpc.health.v1.Health/Check; use the generic stub so
  // no generated health code is needed: an empty request means "the server".
  grpc::GenericStub generic(agent.Channel());
  grpc::ClientContext ctx;
  grpc::ByteBuffer request, response;
  grpc::Slice empty("");
  request = grpc::ByteBuffer(&empty, 1);
  grpc::CompletionQueue cq;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  generic.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                    [&](grpc::Status s) {
                      std::lock_guard<std::mutex> lock(mu);
                      status = s;
                      done = true;
                      cv.notify_all();
                    });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  // HealthCheckResponse{status: SERVING(1)} encodes as 08 01.
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

TEST(AgentServerTest, UnknownConfigKeyStopsStartUp) {
  char tmpl[] = "/tmp/mlcube-agent-cfg-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::ofstream(dir + "/agent.yaml") << "max_concurent_jobs: 3\n";
  std::string out;
  int rc = Shell(std::string(MLCUBE_AGENT_BIN) + " serve --config=" + dir +
                     "/agent.yaml --state-dir=" + dir + "/state --listen=unix://" + dir + "/s",
                 &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("max_concurent_jobs"), std::string::npos) << out;
  std::ofstream(dir + "/agent.yaml") << "max_concurrent_jobs: many\n";
  rc = Shell(std::string(MLCUBE_AGENT_BIN) + " serve --config=" + dir +
                 "/agent.yaml --state-dir=" + dir + "/state --listen=unix://" + dir + "/s",
             &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("max_concurrent_jobs: expected a positive integer"), std::string::npos) << out;
  Shell("rm -rf " + dir);
}

TEST(AgentServerTest, TaskUsersMapEntriesThatShareOrBorrowAUidStopStartUp) {
  char tmpl[] = "/tmp/mlcube-agent-cfg-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  for (const auto& [yaml, said] : std::vector<std::pair<std::string, std::string>>{
           {"task_users: {map: {cn-alice: 3100777, cn-bob: 3100777}}\n",
            "task_users.map.cn-bob: uid 3100777 is also cn-alice's"},
           {"task_users: {map: {cn-alice: 2}}\n",
            "task_users.map.cn-alice: uid 2 is the account"}}) {
    std::ofstream(dir + "/agent.yaml") << yaml;
    std::string out;
    const int rc =
        Shell(std::string(MLCUBE_AGENT_BIN) + " serve --config=" + dir +
                  "/agent.yaml --state-dir=" + dir + "/state --listen=unix://" + dir + "/s",
              &out);
    EXPECT_NE(rc, 0) << yaml;
    EXPECT_NE(out.find(said), std::string::npos) << out;
  }
  Shell("rm -rf " + dir);
}

TEST(AgentServerTest, NonLoopbackTcpWithoutTlsIsRefused) {
  std::string out;
  int rc = Shell(std::string(MLCUBE_AGENT_BIN) +
                     " serve --state-dir=/tmp/mlcube-agent-refuse --listen=0.0.0.0:0",
                 &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("not a loopback address"), std::string::npos) << out;
  Shell("rm -rf /tmp/mlcube-agent-refuse");
}

TEST(AgentServerTest, LoopbackTcpCallerIsIdentifiedByUid) {
  AgentProcessOptions options;
  options.extra_args = {"--listen=127.0.0.1:0", "--insecure"};
  AgentProcess agent(options);
  // --listen given twice replaces the default list: the unix socket is the
  // first, TCP the second.
  ASSERT_TRUE(agent.Start());
  const int port = agent.TcpPort();
  ASSERT_GT(port, 0);
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  mlcube_remote::v1::Agent::Stub stub(channel);
  grpc::ClientContext ctx;
  mlcube_remote::v1::AgentInfo info;
  grpc::Status s = stub.GetInfo(&ctx, {}, &info);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(info.caller_identity(), "uid-" + std::to_string(getuid()));
}

}  // namespace
}  // namespace mlcube_test
