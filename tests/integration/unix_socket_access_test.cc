// The agent's unix socket mode and group (config `unix_socket: {mode,
// group}`) decide who may connect at all; who connects is still identified
// by uid.

#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "tests/integration/agent_process.h"
#include "tests/support/temp_dir.h"

namespace mlcube_test {
namespace {

TEST(UnixSocketAccessTest, ModeAndGroupDecideWhoMayConnect) {
  uid_t uid;
  gid_t gid;
  ASSERT_TRUE(LookupUser("mlcube", &uid, &gid));
  mlcube::testing::TempDir dir;
  dir.WriteFile("agent.yaml", "unix_socket: {mode: \"0660\", group: mlcube}\n");
  AgentProcessOptions options;
  options.extra_args = {"--config=" + dir.path() + "/agent.yaml"};
  AgentProcess agent(options);
  ASSERT_TRUE(agent.Start());

  struct stat st {};
  ASSERT_EQ(stat(agent.socket_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_gid, gid);

  const std::string client = std::string(AGENT_TEST_CLIENT_BIN) + " " + agent.socket_path();
  std::string out;
  // In the group: may connect, and is still known by its own uid.
  EXPECT_EQ(Shell("/usr/bin/setpriv --reuid=" + std::to_string(uid) +
                      " --regid=" + std::to_string(gid) + " --clear-groups " + client,
                  &out),
            0)
      << out;
  EXPECT_EQ(out, "uid-" + std::to_string(uid) + "\n");
  // Not in the group: the kernel refuses the connection.
  EXPECT_NE(Shell("/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups " + client, &out), 0)
      << out;
}

TEST(UnixSocketAccessTest, UnknownGroupStopsStartUp) {
  mlcube::testing::TempDir dir;
  dir.WriteFile("agent.yaml", "unix_socket: {group: no-such-group-here}\n");
  std::string out;
  EXPECT_NE(Shell(std::string(MLCUBE_AGENT_BIN) + " serve --config=" + dir.path() +
                      "/agent.yaml --state-dir=" + dir.path() + "/state --listen=unix://" +
                      dir.path() + "/a.sock",
                  &out),
            0);
  EXPECT_NE(out.find("unix_socket.group: no group 'no-such-group-here'"), std::string::npos) << out;
}

}  // namespace
}  // namespace mlcube_test
