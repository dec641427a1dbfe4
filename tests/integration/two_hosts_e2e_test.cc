// Two agents as two hosts, gpu01 and gpu02, each in its own network
// namespace and reached over TCP with mutual TLS; one hosts file serves two
// different cubes, as it would on a real cluster.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/agent_process.h"
#include "tests/support/command_runner.h"
#include "tests/support/hello_cube.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::CommandResult;
using ::mlcube::testing::CountOccurrences;
using ::mlcube::testing::ReadFileContent;
using ::mlcube::testing::RunCommand;
using ::mlcube::testing::TempDir;
using ::mlcube_test::AgentProcess;
using ::mlcube_test::AgentProcessOptions;
using ::mlcube_test::Shell;
using ::testing::HasSubstr;

const std::string kBinary = MLCUBE_REMOTE_BINARY;
const std::string kAgent = MLCUBE_AGENT_BIN;
const std::string kExamples = MLCUBE_EXAMPLES_DIR;

// A network namespace joined to the root namespace by a veth pair:
// 10.231.N.1 here, 10.231.N.2 inside. Removed on destruction.
class TestHost {
 public:
  TestHost(int index) : index_(index) {
    const std::string tag = std::to_string(::getpid() % 100000) + "x" + std::to_string(index);
    netns_ = "mlcr" + tag;
    outer_ = "mo" + tag;
    inner_ = "mi" + tag;
    address_ = "10.231." + std::to_string(index) + ".2";
  }
  ~TestHost() {
    Shell("ip link del " + outer_ + " 2>/dev/null");
    Shell("ip netns del " + netns_ + " 2>/dev/null");
  }
  bool Create() {
    const std::string net = "10.231." + std::to_string(index_);
    return Shell("ip netns add " + netns_) == 0 &&
           Shell("ip link add " + outer_ + " type veth peer name " + inner_) == 0 &&
           Shell("ip link set " + inner_ + " netns " + netns_) == 0 &&
           Shell("ip addr add " + net + ".1/24 dev " + outer_) == 0 &&
           Shell("ip link set " + outer_ + " up") == 0 &&
           Shell("ip netns exec " + netns_ + " ip addr add " + address_ + "/24 dev " + inner_) ==
               0 &&
           Shell("ip netns exec " + netns_ + " ip link set " + inner_ + " up") == 0 &&
           Shell("ip netns exec " + netns_ + " ip link set lo up") == 0;
  }
  const std::string& netns() const { return netns_; }
  const std::string& address() const { return address_; }

 private:
  int index_;
  std::string netns_, outer_, inner_, address_;
};

TEST(TwoHostsTest, OneHostsFileTwoCubesTwoAgentsOverMutualTls) {
  ASSERT_EQ(::geteuid(), 0u) << "this test creates network namespaces: run it as root";
  ASSERT_EQ(Shell("command -v ip >/dev/null"), 0) << "needs iproute2: apt-get install iproute2";
  ASSERT_EQ(::access((kExamples + "/hello/build/busybox").c_str(), X_OK), 0)
      << "examples/hello/build/busybox is missing: run tools/prepare-examples.sh";
  TempDir dir;
  TestHost gpu01(1), gpu02(2);
  ASSERT_TRUE(gpu01.Create()) << "could not create network namespace " << gpu01.netns();
  ASSERT_TRUE(gpu02.Create()) << "could not create network namespace " << gpu02.netns();

  // One private CA; the server certificate names both hosts.
  const std::string certs = dir.path() + "/certs";
  CommandResult init =
      RunCommand({kAgent, "certs", "init", "--dir=" + certs, "--host=gpu01", "--host=gpu02",
                  "--host=" + gpu01.address(), "--host=" + gpu02.address(), "--client-name=alice"});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  // The agents run as the service user and must read their config and key.
  ASSERT_EQ(Shell("chown -R mlcube " + certs + " && chmod 755 " + dir.path()), 0);
  dir.WriteFile("agent.yaml", "tls: {ca: " + certs + "/ca.pem, cert: " + certs +
                                  "/server.pem, key: " + certs + "/server.key}\n" +
                                  // alice's tasks run as a uid of her own.
                                  "task_users: {pool: \"3200000-3200099\"}\n");

  std::vector<std::unique_ptr<AgentProcess>> agents;
  for (const TestHost* host : {&gpu01, &gpu02}) {
    AgentProcessOptions options;
    options.user = "mlcube";
    options.netns = host->netns();
    options.extra_args = {"--config=" + dir.path() + "/agent.yaml",
                          "--listen=" + host->address() + ":7443"};
    agents.push_back(std::make_unique<AgentProcess>(options));
    ASSERT_TRUE(agents.back()->Start()) << agents.back()->Stderr();
  }

  const std::string tls = "    tls: {ca: " + certs + "/ca.pem, cert: " + certs +
                          "/client.pem, key: " + certs + "/client.key}\n";
  dir.WriteFile("hosts.yaml",
                "default_host: gpu01\nhosts:\n  gpu01:\n    address: " + gpu01.address() +
                    ":7443\n    runtime: docker\n" + tls +
                    "    env: {GREET_DELAY: '0'}\n  gpu02:\n    address: " + gpu02.address() +
                    ":7443\n    runtime: docker\n" + tls + "    env: {GREET_DELAY: '0'}\n");
  const std::string hosts = "--hosts=" + dir.path() + "/hosts.yaml";
  const std::vector<std::string> env = {"NO_COLOR=1", "HOME=" + dir.path()};

  CommandResult listing = RunCommand({kBinary, hosts, "hosts"}, env);
  EXPECT_EQ(listing.exit_code, 0) << listing.out << listing.err;
  EXPECT_THAT(listing.out, HasSubstr("gpu01*"));
  EXPECT_THAT(listing.out, HasSubstr("gpu02 "));

  // Two different cubes (a renamed copy), one per host.
  ASSERT_TRUE(::mlcube::testing::CopyHelloCube(dir.path() + "/cube-a"));
  ASSERT_TRUE(::mlcube::testing::CopyHelloCube(dir.path() + "/cube-b"));
  dir.WriteFile("cube-b/workspace/names.txt", "Dora\nEve\n");
  ASSERT_EQ(Shell("sed -i 's/^name: hello/name: hello-b/' " + dir.path() + "/cube-b/mlcube.yaml"),
            0);

  CommandResult on_gpu01 = RunCommand(
      {kBinary, hosts, "run", "--mlcube=" + dir.path() + "/cube-a", "--task=greet"}, env, 180);
  ASSERT_EQ(on_gpu01.exit_code, 0) << on_gpu01.err << agents[0]->Stderr();
  EXPECT_THAT(on_gpu01.out, HasSubstr("Hello, Alice!"));
  CommandResult on_gpu02 = RunCommand(
      {kBinary, hosts, "run", "--host=gpu02", "--mlcube=" + dir.path() + "/cube-b", "--task=greet"},
      env, 180);
  ASSERT_EQ(on_gpu02.exit_code, 0) << on_gpu02.err << agents[1]->Stderr();
  EXPECT_THAT(on_gpu02.out, HasSubstr("Hello, Eve!"));
  EXPECT_EQ(ReadFileContent(dir.path() + "/cube-a/workspace/greetings/Alice.txt"),
            "Hello, Alice!\n");
  EXPECT_EQ(ReadFileContent(dir.path() + "/cube-b/workspace/greetings/Dora.txt"), "Hello, Dora!\n");

  // Each agent knows only its own job, and saw the certificate's identity.
  CommandResult jobs01 = RunCommand({kBinary, hosts, "jobs", "--all", "--host=gpu01"}, env);
  CommandResult jobs02 = RunCommand({kBinary, hosts, "jobs", "--all", "--host=gpu02"}, env);
  EXPECT_THAT(jobs01.out, HasSubstr("cube-a-"));
  EXPECT_THAT(jobs01.out, ::testing::Not(HasSubstr("cube-b-")));
  EXPECT_THAT(jobs02.out, HasSubstr("cube-b-"));
  const std::string job01 = jobs01.out.substr(jobs01.out.find('\n') + 1, 8);
  CommandResult status = RunCommand({kBinary, hosts, "status", job01}, env);
  EXPECT_THAT(status.out, HasSubstr("owner: cn-alice"));
}

}  // namespace
}  // namespace mlcube
