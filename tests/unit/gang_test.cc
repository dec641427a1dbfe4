// A job across hosts, its pure parts: where rank 0 is reached, the ranks'
// variables and port, and the record that makes the ranks one job.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/gang/gang_follower.h"
#include "controller/gang/gang_plan.h"
#include "controller/gang/gang_record.h"
#include "controller/remote/job_watcher.h"
#include "controller/remote/rank_filter.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

HostEntry Host(const std::string& address) {
  HostEntry host;
  host.name = "gpu01";
  host.address = address;
  return host;
}

TEST(GangPlanTest, RendezvousAddressIsTheSettingElseTheAgentsHost) {
  EXPECT_EQ(*RendezvousAddressOf(Host("gpu01.example.org:7443")), "gpu01.example.org");
  EXPECT_EQ(*RendezvousAddressOf(Host("10.0.0.5:7443")), "10.0.0.5");
  EXPECT_EQ(*RendezvousAddressOf(Host("[fd00::5]:7443")), "fd00::5");
  HostEntry set = Host("unix:///run/agent.sock");
  set.rendezvous_address = "10.1.2.3";
  EXPECT_EQ(*RendezvousAddressOf(set), "10.1.2.3");
  HostEntry ssh = Host("");
  ssh.has_ssh = true;
  ssh.ssh.host = "login.hpc.example.org";
  EXPECT_EQ(*RendezvousAddressOf(ssh), "login.hpc.example.org");
  auto unix_socket = RendezvousAddressOf(Host("unix:///run/agent.sock"));
  EXPECT_EQ(unix_socket.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(unix_socket.status().message()),
              HasSubstr("hosts.gpu01.rendezvous_address"));
}

TEST(GangPlanTest, EveryRankGetsTheLaunchersVariables) {
  EXPECT_THAT(RankEnvironment(1, 3, "n1", 29555, "gang-0000abcd"),
              UnorderedElementsAre(
                  Pair("RANK", "1"), Pair("WORLD_SIZE", "3"), Pair("NODE_RANK", "1"),
                  Pair("LOCAL_RANK", "0"), Pair("LOCAL_WORLD_SIZE", "1"), Pair("MASTER_ADDR", "n1"),
                  Pair("MASTER_PORT", "29555"), Pair("MLCUBE_GANG", "gang-0000abcd")));
  const int port = DefaultMasterPort("gang-0000abcd");
  EXPECT_GE(port, 29500);
  EXPECT_LT(port, 49500);
  EXPECT_EQ(port, DefaultMasterPort("gang-0000abcd"));  // stable
  EXPECT_NE(port, DefaultMasterPort("gang-0000abce"));
}

TEST(GangRecordTest, SavedRecordLoadsBackAndIdsAreChecked) {
  testing::TempDir dir;
  GangRecord record;
  record.id = GangRecord::NewId();
  ASSERT_TRUE(GangRecord::IsId(record.id)) << record.id;
  record.task = "train";
  record.master_addr = "gpu01";
  record.master_port = 29600;
  record.ranks = {{"gpu01", "aaaa1111"}, {"gpu02", "bbbb2222"}};
  ASSERT_TRUE(record.Save(dir.path() + "/gangs").ok());
  auto loaded = GangRecord::Load(dir.path() + "/gangs", record.id);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->task, "train");
  EXPECT_EQ(loaded->master_port, 29600);
  ASSERT_EQ(loaded->ranks.size(), 2u);
  EXPECT_EQ(loaded->ranks[1].host, "gpu02");
  EXPECT_EQ(loaded->ranks[1].job_id, "bbbb2222");
  EXPECT_EQ(GangRecord::Load(dir.path() + "/gangs", "gang-00000000").status().code(),
            absl::StatusCode::kNotFound);
  dir.WriteFile("gangs/gang-0000beef.yaml", "id: [not, a, string]\n");
  EXPECT_EQ(GangRecord::Load(dir.path() + "/gangs", "gang-0000beef").status().code(),
            absl::StatusCode::kDataLoss);
  for (const char* not_id : {"gang-", "gang-ABCDEF12", "gang-0000abcd0", "abcd1234", "gang-../x"}) {
    EXPECT_FALSE(GangRecord::IsId(not_id)) << not_id;
  }
}

TEST(ExitStatusTest, AFailedJobNeverExitsZero) {
  mlcube_remote::v1::Job job;
  job.set_state(mlcube_remote::v1::JOB_STATE_FAILED);
  job.set_exit_code(9);
  EXPECT_EQ(ExitStatusForJob(job), 9);
  job.set_exit_code(0);
  EXPECT_EQ(ExitStatusForJob(job), 1);
  job.set_exit_code(256);  // would be 0 as a process exit status
  EXPECT_EQ(ExitStatusForJob(job), 1);
  GangOutcome outcome;
  outcome.jobs = {mlcube_remote::v1::Job(), job};
  outcome.jobs[0].set_state(mlcube_remote::v1::JOB_STATE_SUCCEEDED);
  outcome.failed_rank = 1;
  EXPECT_EQ(GangExitStatus(outcome), 1);
}

TEST(RankFilterTest, APrefixGoesBeforeEveryWholeLineThenTheFilter) {
  RankFilter prefixed({}, "[rank 1] ");
  EXPECT_FALSE(prefixed.PassesAll());
  EXPECT_EQ(prefixed.Filter(1, "a\nb"), "[rank 1] a\n");
  EXPECT_EQ(prefixed.Flush(1), "[rank 1] b");
  RankFilter other({0}, "[rank 1] ");
  EXPECT_EQ(other.Filter(1, "a\n"), "");
}

}  // namespace
}  // namespace mlcube
