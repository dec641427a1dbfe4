// tools/mlcube-agent.service passes `systemd-analyze verify` and keeps the
// settings restart safety depends on.

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tests/integration/agent_process.h"

namespace mlcube_test {
namespace {

TEST(AgentSystemdUnitTest, VerifiesCleanAndKeepsTasksAcrossRestarts) {
  std::string out;
  ASSERT_EQ(Shell("command -v systemd-analyze", &out), 0)
      << "systemd-analyze is missing; apt-get install systemd";
  std::ifstream in(std::string(MLCUBE_SOURCE_DIR) + "/tools/mlcube-agent.service");
  ASSERT_TRUE(in) << "tools/mlcube-agent.service is missing";
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string unit = buffer.str();
  for (const char* line : {"\nKillMode=process\n", "\nRestart=on-failure\n",
                           "\nStateDirectory=mlcube-agent\n", "\nRuntimeDirectory=mlcube-agent\n",
                           "\nUser=mlcube-agent\n", "\nSupplementaryGroups=docker\n"}) {
    EXPECT_NE(unit.find(line), std::string::npos) << "missing" << line;
  }
  // verify checks that ExecStart's binary exists: point it at the build.
  const std::string installed = "/usr/local/bin/mlcube-agent";
  const size_t at = unit.find("ExecStart=" + installed);
  ASSERT_NE(at, std::string::npos);
  unit.replace(at + 10, installed.size(), MLCUBE_AGENT_BIN);
  char tmpl[] = "/tmp/mlcube-unit-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/mlcube-agent.service";
  std::ofstream(path) << unit;
  const int rc = Shell("systemd-analyze verify " + path, &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << "systemd-analyze verify complained";
  Shell(std::string("rm -rf ") + tmpl);
}

}  // namespace
}  // namespace mlcube_test
