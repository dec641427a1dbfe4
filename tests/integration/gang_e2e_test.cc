// One task as one job across two hosts (`run --nodes=2`): two agents, each
// in the network namespace of one of tools/start-slurm.sh's nodes (n1 at
// 10.77.0.11, n2 at 10.77.0.12, on a bridge; their names in /etc/hosts),
// run the hello cube's `ranks` task with Apptainer, which shares its host's
// network: rank 1 on n2 meets rank 0 on n1 over TCP at MASTER_ADDR=n1.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/integration/agent_process.h"
#include "tests/support/command_runner.h"
#include "tests/support/hello_cube.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::BackgroundCommand;
using ::mlcube::testing::CommandResult;
using ::mlcube::testing::CountOccurrences;
using ::mlcube::testing::ReadFileContent;
using ::mlcube::testing::RunCommand;
using ::mlcube::testing::TempDir;
using ::mlcube_test::AgentProcess;
using ::mlcube_test::AgentProcessOptions;
using ::mlcube_test::Shell;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kBinary = MLCUBE_REMOTE_BINARY;
const std::string kExamples = MLCUBE_EXAMPLES_DIR;

class GangTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "this test starts agents in network namespaces: run as root";
    for (const char* node : {"n1", "n2"}) {
      ASSERT_EQ(Shell(absl::StrCat("ip netns list | grep -qw mlcslurm-", node)), 0)
          << "no network namespace mlcslurm-" << node << ": run tools/start-slurm.sh (as root)";
    }
    ASSERT_EQ(::access((kExamples + "/hello/build/busybox").c_str(), X_OK), 0)
        << "examples/hello/build/busybox is missing: run tools/prepare-examples.sh";
    ASSERT_TRUE(::mlcube::testing::CopyHelloCube(dir_.path() + "/hello"));
    ASSERT_EQ(Shell("chmod 0755 " + dir_.path()), 0);
    for (const char* node : {"n1", "n2"}) StartAgent(node, "");
    WriteHosts("", "");
  }

  void StartAgent(const std::string& node, const std::string& config) {
    AgentProcessOptions options;
    options.user = "mlcube";
    options.netns = "mlcslurm-" + node;
    if (!config.empty()) {
      dir_.WriteFile(node + ".yaml", config);
      ASSERT_EQ(Shell("chmod 0644 " + dir_.path() + "/" + node + ".yaml"), 0);
      options.extra_args = {"--config=" + dir_.path() + "/" + node + ".yaml"};
    }
    agents_.push_back(std::make_unique<AgentProcess>(options));
    ASSERT_TRUE(agents_.back()->Start()) << agents_.back()->Stderr();
  }

  // Hosts a (rank 0, reached at n1) and b, group `pair`.
  void WriteHosts(const std::string& env, const std::string& a_extra,
                  const std::string& runtime = "singularity") {
    std::string text = "default_host: a\nhosts:\n";
    for (size_t i = 0; i < 2; ++i) {
      absl::StrAppend(&text, "  ", i == 0 ? "a" : "b", ":\n    address: unix://",
                      agents_[i]->socket_path(), "\n    runtime: ", runtime, "\n    env: {", env,
                      "}\n", i == 0 ? a_extra : "");
    }
    absl::StrAppend(&text, "groups: {pair: [a, b]}\n");
    dir_.WriteFile("hosts.yaml", text);
  }

  CommandResult Cli(const std::vector<std::string>& args, int timeout = 240) {
    std::vector<std::string> argv = {kBinary, "--hosts=" + dir_.path() + "/hosts.yaml"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, {"NO_COLOR=1", "HOME=" + dir_.path()}, timeout);
  }

  std::vector<std::string> Gang(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"run", "--mlcube=" + dir_.path() + "/hello", "--task=ranks",
                                     "--nodes=2", "--host=pair"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // `status ID` once it says CANCELLED (or after 60 s, whatever it says).
  std::string WaitForCancelled(const std::string& id) {
    std::string status;
    for (int i = 0; i < 300 && status.find("state: CANCELLED") == std::string::npos; ++i) {
      status = Cli({"status", id}).out;
      if (status.find("state: CANCELLED") == std::string::npos) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
    return status;
  }

  static std::string GangId(const std::string& text) {
    const size_t at = text.find("gang-");
    return at == std::string::npos ? "" : text.substr(at, 13);
  }

  TempDir dir_;
  std::vector<std::unique_ptr<AgentProcess>> agents_;
};

TEST_F(GangTest, TwoRanksOnTwoHostsMeetOverTcpAsOneJob) {
  WriteHosts("", "    rendezvous_address: n1\n");
  CommandResult run = Cli(Gang({"--master-port=29777"}));
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err << "\nn1:\n"
                              << agents_[0]->Stderr() << "\nn2:\n"
                              << agents_[1]->Stderr();
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_THAT(run.out, HasSubstr(absl::StrCat("[rank ", rank, "] RANK=", rank,
                                                " LOCAL_RANK=0 WORLD_SIZE=2 LOCAL_WORLD_SIZE=1 "
                                                "NODE_RANK=",
                                                rank, " MASTER_ADDR=n1 MASTER_PORT=29777 ")));
    EXPECT_EQ(
        ReadFileContent(absl::StrCat(dir_.path(), "/hello/workspace/ranks/rank-", rank, ".txt"))
            .substr(0, 11),
        absl::StrCat("rank ", rank, " ran "));
  }
  // Rank 1, in n2's network namespace, reached rank 0 at n1's address.
  EXPECT_THAT(run.out, HasSubstr("[rank 0] met rank 1 on "));
  EXPECT_THAT(run.out, HasSubstr("[rank 1] met welcome from rank 0 on "));
  EXPECT_THAT(run.err, HasSubstr("as 2 ranks on a, b (MASTER_ADDR=n1 MASTER_PORT=29777)"));
  EXPECT_THAT(run.err, HasSubstr("every rank succeeded"));

  // One job for status and logs.
  const std::string id = GangId(run.err);
  ASSERT_FALSE(id.empty()) << run.err;
  CommandResult status = Cli({"status", id});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("state: SUCCEEDED"));
  EXPECT_THAT(status.out, HasSubstr("rank 0: a job "));
  EXPECT_THAT(status.out, HasSubstr("rank 1: b job "));
  // One rank alone would wait at the rendezvous: re-running it is refused.
  const size_t at = status.out.find("rank 1: b job ");
  ASSERT_NE(at, std::string::npos) << status.out;
  const std::string rank_job = status.out.substr(at + 14, 8);
  CommandResult rerun = Cli({"rerun", "--host=b", rank_job});
  EXPECT_NE(rerun.exit_code, 0);
  EXPECT_THAT(rerun.err, HasSubstr("is one rank of " + id + ", a job across hosts"));
  CommandResult one = Cli({"logs", "--ranks=1", id});
  EXPECT_EQ(one.exit_code, 0) << one.err;
  EXPECT_THAT(one.out, HasSubstr("[rank 1] RANK=1 "));
  EXPECT_THAT(one.out, Not(HasSubstr("[rank 0]")));
}

TEST_F(GangTest, AFailingRankFailsTheJobWithItsCodeAndCancelsTheOther) {
  WriteHosts("FAIL_RANK: '1', RANK_SECONDS: '300'", "    rendezvous_address: n1\n");
  const auto started = std::chrono::steady_clock::now();
  CommandResult run = Cli(Gang());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(150));
  EXPECT_EQ(run.exit_code, 9) << run.out << run.err;
  EXPECT_THAT(run.err, HasSubstr("[rank 1] ranks: rank 1 fails on purpose"));
  EXPECT_THAT(run.err, HasSubstr("rank 1 on b FAILED (exit code 9): cancelling the other ranks"));
  CommandResult status = Cli({"status", GangId(run.err)});
  EXPECT_THAT(status.out, HasSubstr("state: FAILED\nexit code: 9\n"));
  EXPECT_THAT(status.out, HasSubstr("rank 0: a job "));
  EXPECT_THAT(status.out, HasSubstr(" CANCELLED\n"));
}

TEST_F(GangTest, CancelEndsEveryRank) {
  WriteHosts("RANK_SECONDS: '300'", "    rendezvous_address: n1\n");
  CommandResult detached = Cli(Gang({"--detach"}));
  ASSERT_EQ(detached.exit_code, 0) << detached.err;
  const std::string id = detached.out.substr(0, detached.out.find('\n'));
  ASSERT_EQ(id, GangId(detached.err));
  std::string logs;
  for (int i = 0; i < 600 && CountOccurrences(logs, "] tick 1\n") < 2; ++i) {
    logs = Cli({"logs", id}).out;
    if (CountOccurrences(logs, "] tick 1\n") < 2) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  ASSERT_EQ(CountOccurrences(logs, "] tick 1\n"), 2) << logs;
  CommandResult cancelled = Cli({"cancel", id});
  EXPECT_EQ(cancelled.exit_code, 0) << cancelled.err;
  EXPECT_THAT(cancelled.out, HasSubstr(id + " CANCELLED (2 ranks)"));
  const std::string status = WaitForCancelled(id);
  EXPECT_THAT(status, HasSubstr("state: CANCELLED"));
  EXPECT_EQ(CountOccurrences(status, "CANCELLED\n"), 3) << status;  // the job and both ranks
}

// The ranks go on without an agent: killed and restarted mid-job, the
// follower still shows each rank's every line once.
TEST_F(GangTest, AnAgentKilledMidJobKeepsEveryRanksLinesOnce) {
  WriteHosts("RANK_SECONDS: '8'", "    rendezvous_address: n1\n");
  std::vector<std::string> argv = {kBinary, "--hosts=" + dir_.path() + "/hosts.yaml"};
  for (const std::string& arg : Gang()) argv.push_back(arg);
  BackgroundCommand run(argv, {"NO_COLOR=1", "HOME=" + dir_.path()});
  for (int i = 0; i < 1200 && run.OutputSoFar().find("[rank 1] tick 2") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_THAT(run.OutputSoFar(), HasSubstr("[rank 1] tick 2"));
  const std::string state_dir = agents_[1]->state_dir();
  agents_[1]->Kill(SIGKILL);
  AgentProcessOptions options;
  options.user = "mlcube";
  options.netns = "mlcslurm-n2";
  options.state_dir = state_dir;
  auto restarted = std::make_unique<AgentProcess>(options);
  ASSERT_TRUE(restarted->Start()) << restarted->Stderr();
  CommandResult result = run.Wait(180);
  EXPECT_EQ(result.exit_code, 0) << result.err << "\nn2:\n" << restarted->Stderr();
  for (int rank = 0; rank < 2; ++rank) {
    for (int i = 1; i <= 8; ++i) {
      EXPECT_EQ(CountOccurrences(result.out, absl::StrCat("[rank ", rank, "] tick ", i, "\n")), 1)
          << "rank " << rank << " tick " << i << " in:\n"
          << result.out;
    }
  }
  agents_.push_back(std::move(restarted));  // after the killed one, which owns the state dir
}

// Ctrl-C while following: the ranks go on (re-attach with logs -f), or
// with --cancel-on-interrupt every rank is cancelled.
TEST_F(GangTest, CtrlCDetachesOrWithCancelOnInterruptCancelsEveryRank) {
  WriteHosts("RANK_SECONDS: '300'", "    rendezvous_address: n1\n");
  for (const bool cancel : {false, true}) {
    std::vector<std::string> argv = {kBinary, "--hosts=" + dir_.path() + "/hosts.yaml"};
    for (const std::string& arg : Gang()) argv.push_back(arg);
    if (cancel) argv.push_back("--cancel-on-interrupt");
    BackgroundCommand run(argv, {"NO_COLOR=1", "HOME=" + dir_.path()});
    for (int i = 0; i < 1200 && CountOccurrences(run.OutputSoFar(), "] tick 1\n") < 2; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(CountOccurrences(run.OutputSoFar(), "] tick 1\n"), 2) << run.OutputSoFar();
    ASSERT_EQ(::kill(run.pid(), SIGINT), 0);
    CommandResult ended = run.Wait(60);
    EXPECT_EQ(ended.exit_code, 130) << ended.err;
    const std::string id = GangId(ended.err);
    ASSERT_FALSE(id.empty()) << ended.err;
    if (!cancel) {
      EXPECT_THAT(ended.err, HasSubstr("goes on; re-attach with: mlcube-remote logs -f " + id));
      EXPECT_THAT(Cli({"status", id}).out, HasSubstr("state: RUNNING"));
      EXPECT_EQ(Cli({"cancel", id}).exit_code, 0);
      continue;
    }
    EXPECT_THAT(ended.err, HasSubstr("cancelled every rank of " + id));
    EXPECT_THAT(WaitForCancelled(id), HasSubstr("state: CANCELLED"));
  }
}

// A host that cannot take its rank in time releases the others: b runs one
// job at a time and is busy, so rank 1 waits; after --start-timeout both
// ranks are cancelled and nothing is left running on a.
TEST_F(GangTest, ARankThatCannotStartInTimeReleasesTheOthers) {
  agents_.pop_back();
  StartAgent("n2", "max_concurrent_jobs: 1\n");
  WriteHosts("RANK_SECONDS: '300'", "    rendezvous_address: n1\n");
  CommandResult busy =
      Cli({"run", "--mlcube=" + dir_.path() + "/hello", "--task=count", "--host=b", "--detach"});
  ASSERT_EQ(busy.exit_code, 0) << busy.err;
  CommandResult run = Cli(Gang({"--start-timeout=8"}));
  EXPECT_NE(run.exit_code, 0);
  EXPECT_THAT(run.err, HasSubstr("not every rank started within 8s ("));
  EXPECT_THAT(run.err, HasSubstr("rank 1 on b is QUEUED"));
  CommandResult on_a = Cli({"jobs", "--all", "--host=a"});
  EXPECT_THAT(on_a.out, HasSubstr("CANCELLED")) << on_a.out;
  EXPECT_THAT(on_a.out, Not(HasSubstr("RUNNING"))) << on_a.out;
  Cli({"cancel", "--host=b", busy.out.substr(0, busy.out.find('\n'))});
}

// Docker tasks join their host's network, where the other ranks reach
// them, when the agents allow it; an agent that does not refuses the rank
// and the error says what its admin can do. (With one Docker daemon here,
// both ranks' containers share this machine's network: rank 0 is reached
// at 127.0.0.1.)
TEST_F(GangTest, DockerRanksJoinTheHostNetworkWhereTheAgentsAllowIt) {
  ASSERT_EQ(Shell("docker info >/dev/null 2>&1"), 0) << "no Docker: run tools/start-docker.sh";
  agents_.clear();
  for (const char* node : {"n1", "n2"}) StartAgent(node, "allow: {host_network: true}\n");
  WriteHosts("", "    rendezvous_address: 127.0.0.1\n", "docker");
  // Built from this checkout's hello.sh, not an image an older one left.
  CommandResult run = Cli(Gang({"-P", "docker.build_strategy=always"}));
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err << "\nn1:\n" << agents_[0]->Stderr();
  EXPECT_THAT(run.out, HasSubstr("[rank 0] met rank 1 on "));
  EXPECT_THAT(run.out, HasSubstr("[rank 1] met welcome from rank 0 on "));

  agents_.pop_back();
  StartAgent("n2", "");
  WriteHosts("", "    rendezvous_address: 127.0.0.1\n", "docker");
  CommandResult refused = Cli(Gang());
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("rank 1 on b: "));
  EXPECT_THAT(refused.err, HasSubstr("allow: {host_network: true} in the agent's config"));
  EXPECT_THAT(Cli({"jobs", "--all", "--host=a"}).out, Not(HasSubstr("RUNNING")));
}

TEST_F(GangTest, BadRequestsAreRefusedBeforeAnythingStarts) {
  // Rank 0's agent is reached through a unix socket: where do the others reach it?
  CommandResult no_address = Cli(Gang());
  EXPECT_EQ(no_address.exit_code, 2);
  EXPECT_THAT(no_address.err, HasSubstr("hosts.a.rendezvous_address: set the address"));
  CommandResult too_few = Cli(
      {"run", "--mlcube=" + dir_.path() + "/hello", "--task=ranks", "--nodes=3", "--host=pair"});
  EXPECT_EQ(too_few.exit_code, 2);
  EXPECT_THAT(too_few.err, HasSubstr("--nodes=3 needs as many hosts"));
  CommandResult with_sweep = Cli(Gang({"--repeat=2"}));
  EXPECT_EQ(with_sweep.exit_code, 2);
  EXPECT_THAT(with_sweep.err, HasSubstr("it does not take --sweep or --repeat"));
  EXPECT_THAT(Cli({"jobs", "--all", "--host=a"}).out, Not(HasSubstr("ranks")));
  EXPECT_EQ(Cli({"status", "gang-0000abcd"}).exit_code, 2);
  CommandResult rerun = Cli({"rerun", "gang-0000abcd"});
  EXPECT_EQ(rerun.exit_code, 2);
  EXPECT_THAT(rerun.err, HasSubstr("started again with `mlcube-remote run --nodes=N"));
}

}  // namespace
}  // namespace mlcube
