#include "agent/access/task_user_resolver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include "agent/config/agent_config.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::ReadFileContent;
using ::mlcube::testing::TempDir;
using ::testing::HasSubstr;

constexpr uid_t kAgent = 4100;
constexpr gid_t kAgentGid = 4200;

std::unique_ptr<TaskUserResolver> Make(const TaskUsersConfig& config, const std::string& file) {
  auto made = TaskUserResolver::Create(config, file, kAgent, kAgentGid);
  EXPECT_TRUE(made.ok()) << made.status();
  return made.ok() ? std::move(*made) : nullptr;
}

TEST(TaskUserResolverTest, UnixIdentitiesRunAsTheirOwnUid) {
  TempDir dir;
  auto resolver = Make({}, dir / "task_users.list");
  const struct passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  auto user = resolver->Resolve("uid-" + std::to_string(nobody->pw_uid));
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->uid, nobody->pw_uid);
  EXPECT_EQ(user->gid, nobody->pw_gid);  // the passwd entry's primary group
  EXPECT_FALSE(user->agent_owner);
  ASSERT_EQ(getpwuid(3100777), nullptr);
  user = resolver->Resolve("uid-3100777");  // no account: gid = uid
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->gid, 3100777u);
}

TEST(TaskUserResolverTest, TheAgentsOwnUidAndRootAreTheOwner) {
  TempDir dir;
  auto resolver = Make({}, dir / "task_users.list");
  for (const char* identity : {"uid-4100", "uid-0"}) {
    auto user = resolver->Resolve(identity);
    ASSERT_TRUE(user.ok()) << identity;
    EXPECT_TRUE(user->agent_owner) << identity;
    EXPECT_EQ(user->uid, kAgent) << identity;
    EXPECT_EQ(user->gid, kAgentGid) << identity;
  }
}

TEST(TaskUserResolverTest, CertificateIdentitiesWithoutAUidAreRefusedNamingTaskUsers) {
  TempDir dir;
  TaskUsersConfig config;
  config.map["cn-alice"] = 3100777;
  auto resolver = Make(config, dir / "task_users.list");
  auto alice = resolver->Resolve("cn-alice");
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->uid, 3100777u);
  EXPECT_EQ(alice->gid, 3100777u);
  auto bob = resolver->Resolve("cn-bob");
  EXPECT_EQ(bob.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(bob.status().message(), HasSubstr("task_users"));
  EXPECT_THAT(bob.status().message(), HasSubstr("mlcube-remote agent install --host=H"));
}

TEST(TaskUserResolverTest, PoolUidsSkipAccountsAndMappedUidsAndSurviveARestart) {
  TempDir dir;
  const struct passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  const uid_t first = nobody->pw_uid;  // a real account: skipped
  ASSERT_EQ(getpwuid(first + 1), nullptr);
  ASSERT_EQ(getpwuid(first + 2), nullptr);
  TaskUsersConfig config;
  config.map["cn-carol"] = first + 1;  // mapped: skipped
  config.pool_first = first;
  config.pool_last = first + 3;
  const std::string file = dir / "task_users.list";
  uid_t bob_uid = 0;
  {
    auto resolver = Make(config, file);
    auto bob = resolver->Resolve("cn-bob");
    ASSERT_TRUE(bob.ok()) << bob.status();
    EXPECT_EQ(bob->uid, first + 2);
    EXPECT_EQ(bob->gid, first + 2);
    bob_uid = bob->uid;
    auto again = resolver->Resolve("cn-bob");
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->uid, bob_uid);
  }
  EXPECT_EQ(ReadFileContent(file), "cn-bob " + std::to_string(bob_uid) + "\n");
  auto restarted = Make(config, file);
  auto bob = restarted->Resolve("cn-bob");
  ASSERT_TRUE(bob.ok());
  EXPECT_EQ(bob->uid, bob_uid);
  ASSERT_EQ(getpwuid(first + 3), nullptr);
  auto dave = restarted->Resolve("cn-dave");
  ASSERT_TRUE(dave.ok()) << dave.status();
  EXPECT_EQ(dave->uid, first + 3);
  auto erin = restarted->Resolve("cn-erin");
  EXPECT_EQ(erin.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(erin.status().message(), HasSubstr("task_users.pool"));
}

TEST(TaskUserResolverTest, ABrokenPoolFileIsAnErrorNamingIt) {
  TempDir dir;
  dir.WriteFile("task_users.list", "cn-bob 2000\ngarbage\n");
  TaskUsersConfig config;
  auto made = TaskUserResolver::Create(config, dir / "task_users.list", kAgent, kAgentGid);
  ASSERT_FALSE(made.ok());
  EXPECT_THAT(made.status().message(), HasSubstr("task_users.list:2"));
}

// A map entry that would hand an identity the agent's power, another
// identity's files or a real account's is refused at start-up, naming it.
TEST(TaskUserResolverTest, MapEntriesOfTheAgentOthersOrRealAccountsAreRefused) {
  TempDir dir;
  const struct passwd* root = getpwuid(0);
  ASSERT_NE(root, nullptr);
  const struct passwd* nobody = getpwnam("nobody");  // no login shell: a dedicated account
  ASSERT_NE(nobody, nullptr);
  // An account with a login shell, other than root (map uids are never 0).
  uid_t person = 0;
  std::string person_name;
  setpwent();
  for (const struct passwd* p = getpwent(); p != nullptr; p = getpwent()) {
    const std::string shell = p->pw_shell == nullptr ? "" : p->pw_shell;
    if (p->pw_uid >= 1000 && p->pw_uid != nobody->pw_uid && !shell.empty() &&
        shell.find("nologin") == std::string::npos && shell.find("false") == std::string::npos) {
      person = p->pw_uid;
      person_name = p->pw_name;
      break;
    }
  }
  endpwent();
  struct Case {
    std::map<std::string, uint32_t> map;
    std::string said;
  };
  std::vector<Case> cases = {
      {{{"cn-alice", kAgent}}, "task_users.map.cn-alice: uid 4100 is the agent's own"},
      {{{"cn-alice", 3100777}, {"cn-bob", 3100777}},
       "task_users.map.cn-bob: uid 3100777 is also "
       "cn-alice's"},
      {{{"cn-alice", 2}}, "task_users.map.cn-alice: uid 2 is the account"},  // a system account
  };
  if (person != 0) {
    cases.push_back({{{"cn-carol", person}},
                     "task_users.map.cn-carol: uid " + std::to_string(person) +
                         " is the account '" + person_name + "' (it has a login shell)"});
  }
  for (const Case& c : cases) {
    TaskUsersConfig config;
    config.map = c.map;
    auto made = TaskUserResolver::Create(config, dir / "task_users.list", kAgent, kAgentGid);
    ASSERT_FALSE(made.ok()) << c.said;
    EXPECT_EQ(made.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(made.status().message(), HasSubstr(c.said));
    EXPECT_EQ(made.status().message().find('\n'), std::string::npos);
  }
  // Accounts made for task identities (no login shell) and uids without an
  // account pass; so does naming an identity the agent's owner outright.
  TaskUsersConfig config;
  config.map = {{"cn-alice", nobody->pw_uid}, {"cn-bob", 3100777}};
  config.owners = {"cn-admin"};
  auto resolver = Make(config, dir / "task_users.list");
  ASSERT_NE(resolver, nullptr);
  auto admin = resolver->Resolve("cn-admin");
  ASSERT_TRUE(admin.ok()) << admin.status();
  EXPECT_TRUE(admin->agent_owner);
  EXPECT_EQ(admin->uid, kAgent);
  EXPECT_FALSE(resolver->Resolve("cn-bob")->agent_owner);
  config.owners = {"cn-bob"};  // both an owner and mapped
  EXPECT_FALSE(TaskUserResolver::Create(config, dir / "task_users.list", kAgent, kAgentGid).ok());
}

TEST(TaskUsersConfigTest, ParsesMapAndPool) {
  auto config = ParseAgentConfig(
      "task_users: {map: {cn-alice: 2001, cn-bob: 2002}, pool: \"200000-200999\"}\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->task_users.map.at("cn-alice"), 2001u);
  EXPECT_EQ(config->task_users.map.at("cn-bob"), 2002u);
  EXPECT_EQ(config->task_users.pool_first, 200000u);
  EXPECT_EQ(config->task_users.pool_last, 200999u);
}

TEST(TaskUsersConfigTest, RefusesRootUidsBadRangesAndNonCertificateIdentities) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"task_users: {map: {cn-alice: 0}}", "task_users.map.cn-alice"},
      {"task_users: {map: {uid-1000: 2001}}", "task_users.map.uid-1000"},
      {"task_users: {pool: \"0-10\"}", "task_users.pool"},
      {"task_users: {pool: \"300-200\"}", "task_users.pool"},
      {"task_users: {pool: \"200\"}", "task_users.pool"},
      {"task_users: {pools: \"1-2\"}", "task_users.pools"},
      {"task_users: {owners: cn-alice}", "task_users.owners"},
      {"task_users: {owners: [uid-1000]}", "task_users.owners"},
  };
  for (const auto& [yaml, key] : cases) {
    auto config = ParseAgentConfig(yaml + "\n");
    EXPECT_FALSE(config.ok()) << yaml;
    EXPECT_THAT(config.status().message(), HasSubstr(key)) << yaml;
  }
}

}  // namespace
}  // namespace mlcube
