#include "tests/integration/hello_cube_fixture.h"

#include <unistd.h>

#include "tests/support/hello_cube.h"

namespace mlcube_test {

void HelloCubeTest::SetUp() {
  const std::string examples = MLCUBE_EXAMPLES_DIR;
  ASSERT_EQ(::access((examples + "/hello/build/busybox").c_str(), X_OK), 0)
      << "examples/hello/build/busybox is missing: run tools/prepare-examples.sh";
  ASSERT_TRUE(::mlcube::testing::CopyHelloCube(dir_.path() + "/hello"));
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  WriteHosts("docker");
}

void HelloCubeTest::StartAgent(const std::string& agent_yaml) {
  agent_.reset();
  // The agent runs as the unprivileged service user, like in production.
  AgentProcessOptions options;
  options.user = "mlcube";
  if (!agent_yaml.empty()) {
    dir_.WriteFile("agent.yaml", agent_yaml);
    ASSERT_EQ(
        Shell("chmod 0755 '" + dir_.path() + "' && chmod 0644 '" + dir_.path() + "/agent.yaml'"),
        0);
    options.extra_args = {"--config=" + dir_.path() + "/agent.yaml"};
  }
  agent_ = std::make_unique<AgentProcess>(options);
  ASSERT_TRUE(agent_->Start()) << agent_->Stderr();
}

void HelloCubeTest::WriteHosts(const std::string& runtime, const std::string& count_seconds) {
  dir_.WriteFile("hosts.yaml", "default_host: local\nhosts:\n  local:\n    address: unix://" +
                                   agent_->socket_path() + "\n    runtime: " + runtime +
                                   "\n    env: {GREET_DELAY: '0.05', COUNT_SECONDS: '" +
                                   count_seconds + "'}\n");
}

std::vector<std::string> HelloCubeTest::Argv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {MLCUBE_REMOTE_BINARY, "--hosts=" + dir_.path() + "/hosts.yaml"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

::mlcube::testing::CommandResult HelloCubeTest::Cli(const std::vector<std::string>& args,
                                                    int timeout) {
  return ::mlcube::testing::RunCommand(Argv(args), {"NO_COLOR=1", "HOME=" + dir_.path()}, timeout);
}

}  // namespace mlcube_test
