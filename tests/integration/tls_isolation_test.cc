// Two callers with certificates from the agent's CA, alice and bob, share one
// agent over mutual TLS. Through the real CLI, bob can neither list, watch,
// inspect nor cancel alice's job, nor pull her workspace; alice can.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/two_identity_agent.h"
#include "tests/support/command_runner.h"
#include "tests/support/hello_cube.h"

namespace mlcube_test {
namespace {

using ::mlcube::testing::CommandResult;
using ::testing::HasSubstr;
using ::testing::Not;

class TlsIsolationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(MLCUBE_SOURCE_DIR "/examples/hello/build/busybox", X_OK), 0)
        << "run tools/prepare-examples.sh first (copies busybox into examples/hello/build)";
    ASSERT_EQ(Shell("docker info >/dev/null"), 0) << "start Docker: tools/start-docker.sh";
    ASSERT_TRUE(agents_.Start());
    agent_ = &agents_.agent();
    cube_ = agents_.root() + "/hello";
    ASSERT_TRUE(::mlcube::testing::CopyHelloCube(cube_));
  }

  CommandResult As(const std::string& user, std::vector<std::string> args) {
    return agents_.As(user, args);
  }

  void TearDown() override {
    // A failed test must not leave the ten-minute task behind.
    if (!job_.empty()) {
      Shell("docker ps -aq --filter label=mlcube-agent.job=" + job_ + " | xargs -r docker rm -f");
    }
  }

  TwoIdentityAgent agents_;
  AgentProcess* agent_ = nullptr;
  std::string job_;
  std::string cube_;
};

TEST_F(TlsIsolationTest, AnotherIdentityCannotSeeOrTouchJobsAndWorkspaces) {
  CommandResult push = As("alice", {"sync", "push", "--mlcube=" + cube_});
  ASSERT_EQ(push.exit_code, 0) << push.out << push.err << agent_->Stderr();
  // `count` ticks for ten minutes: the job is still running while bob tries.
  CommandResult run = As("alice", {"run", "-d", "--mlcube=" + cube_, "--task=count"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err << agent_->Stderr();
  // "job 1a2b3c4d on gpu: count (QUEUED)"
  const std::string said = run.out + run.err;
  const size_t at = said.find("job ");
  ASSERT_NE(at, std::string::npos) << said;
  const std::string job = said.substr(at + 4, said.find(' ', at + 4) - at - 4);
  ASSERT_EQ(job.size(), 8u) << said;
  job_ = job;

  CommandResult alice_jobs = As("alice", {"jobs", "--all"});
  EXPECT_EQ(alice_jobs.exit_code, 0) << alice_jobs.err;
  EXPECT_THAT(alice_jobs.out, HasSubstr(job));

  CommandResult bob_jobs = As("bob", {"jobs", "--all"});
  EXPECT_EQ(bob_jobs.exit_code, 0) << bob_jobs.err;
  EXPECT_THAT(bob_jobs.out + bob_jobs.err, Not(HasSubstr(job)));
  // As if the job did not exist: nothing tells bob that alice has one.
  for (const char* command : {"status", "logs", "cancel", "rerun"}) {
    CommandResult bob = As("bob", {command, job});
    EXPECT_NE(bob.exit_code, 0) << command << ":\n" << bob.out << bob.err;
    EXPECT_THAT(bob.err, HasSubstr("no job " + job)) << command;
    EXPECT_THAT(bob.out, Not(HasSubstr("tick"))) << command;
  }
  // The same cube directory maps to the same cube id, but under bob's
  // identity there is no such workspace.
  CommandResult bob_pull = As("bob", {"sync", "pull", "--mlcube=" + cube_});
  EXPECT_NE(bob_pull.exit_code, 0) << bob_pull.out << bob_pull.err;
  EXPECT_THAT(bob_pull.err, HasSubstr("has no workspace on this agent"));

  // alice's job was not cancelled by bob; she can watch and cancel it.
  CommandResult status = As("alice", {"status", job});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_THAT(status.out + status.err, HasSubstr("RUNNING"));
  CommandResult cancel = As("alice", {"cancel", job});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.out << cancel.err;
  CommandResult pull = As("alice", {"sync", "pull", "--mlcube=" + cube_});
  EXPECT_EQ(pull.exit_code, 0) << pull.out << pull.err;

  // On the agent: workspaces under alice's identity only.
  std::string owners;
  ASSERT_EQ(Shell("ls " + agent_->state_dir() + "/cubes", &owners), 0);
  EXPECT_EQ(owners, "cn-alice\n");
}

}  // namespace
}  // namespace mlcube_test
