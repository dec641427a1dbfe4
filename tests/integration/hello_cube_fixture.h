#ifndef MLCUBE_REMOTE_TESTS_INTEGRATION_HELLO_CUBE_FIXTURE_H_
#define MLCUBE_REMOTE_TESTS_INTEGRATION_HELLO_CUBE_FIXTURE_H_

// A copy of examples/hello (with its busybox, without outputs) in a temp
// dir, a real agent running as the unprivileged test user `mlcube`, and a
// hosts file naming it as `local`, so end-to-end tests drive the real CLI
// and never write into the source tree.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/integration/agent_process.h"
#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"

namespace mlcube_test {

class HelloCubeTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // (Re)starts the agent as `mlcube`; with `agent_yaml`, from that config
  // (written to agent.yaml here, readable by the agent's user).
  void StartAgent(const std::string& agent_yaml = "");

  // hosts.yaml: the agent as host `local` with `runtime`; the hello cube's
  // tasks greet with a 50 ms delay and `count` runs for `count_seconds`.
  void WriteHosts(const std::string& runtime, const std::string& count_seconds = "4");

  // mlcube-remote with --hosts=<this hosts file> and `args`.
  std::vector<std::string> Argv(const std::vector<std::string>& args) const;
  ::mlcube::testing::CommandResult Cli(const std::vector<std::string>& args, int timeout = 120);

  std::string Cube() const { return "--mlcube=" + dir_.path() + "/hello"; }
  std::string Workspace() const { return dir_.path() + "/hello/workspace"; }

  ::mlcube::testing::TempDir dir_;
  std::unique_ptr<AgentProcess> agent_;
};

}  // namespace mlcube_test

#endif  // MLCUBE_REMOTE_TESTS_INTEGRATION_HELLO_CUBE_FIXTURE_H_
