// Drives the built mlcube-remote binary: describe, show-config, --version,
// --help and the exit status and message of bad input.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::CommandResult;
using ::mlcube::testing::RunCommand;
using ::mlcube::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kBinary = MLCUBE_REMOTE_BINARY;
const std::string kAgentBinary = MLCUBE_AGENT_BINARY;
const std::string kData = MLCUBE_TEST_DATA_DIR;
const std::string kExamples = MLCUBE_EXAMPLES_DIR;

CommandResult Cli(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kBinary};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, {"NO_COLOR=1"});
}

TEST(CliTest, VersionAndHelp) {
  CommandResult version = Cli({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_THAT(version.out, HasSubstr("mlcube-remote " MLCUBE_REMOTE_VERSION));
  for (const char* command : {"describe", "show-config"}) {
    CommandResult help = Cli({command, "--help"});
    EXPECT_EQ(help.exit_code, 0) << command;
    EXPECT_THAT(help.out, HasSubstr("--mlcube")) << command;
  }
  CommandResult agent_version = RunCommand({kAgentBinary, "--version"});
  EXPECT_EQ(agent_version.exit_code, 0);
  EXPECT_THAT(agent_version.out, HasSubstr("mlcube-agent " MLCUBE_REMOTE_VERSION));
  EXPECT_EQ(RunCommand({kAgentBinary, "--help"}).exit_code, 0);
}

TEST(CliTest, DescribeSingleFileCube) {
  CommandResult result = Cli({"describe", "--mlcube=" + kData + "/single_file/mnist"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("name: mnist"));
  EXPECT_THAT(result.out, HasSubstr("train:"));
  EXPECT_THAT(result.out,
              HasSubstr("train_config: file, read-only, default 'mnist_train.yaml' -> " + kData +
                        "/single_file/mnist/workspace/mnist_train.yaml"));
  EXPECT_EQ(result.err, "");
}

TEST(CliTest, DescribeLegacyCubeByItsMlcubeYaml) {
  CommandResult result = Cli({"describe", "--mlcube=" + kData + "/legacy/mnist/mlcube.yaml"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("layout: older"));
  EXPECT_THAT(result.out, HasSubstr("parameters_file: file, default "
                                    "'parameters/default.parameters.yaml'"));
}

TEST(CliTest, DescribeExampleCube) {
  CommandResult result = Cli({"describe", "--mlcube=" + kExamples + "/hello"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("name: hello"));
  EXPECT_THAT(result.out, HasSubstr("greet:"));
}

TEST(CliTest, DescribeMnistExampleInTheOlderLayout) {
  CommandResult result = Cli({"describe", "--mlcube=" + kExamples + "/mnist"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("layout: older"));
  EXPECT_THAT(result.out, HasSubstr("model_dir: directory, default 'model'"));
  CommandResult config = Cli({"show-config", "--mlcube=" + kExamples + "/mnist",
                              "--platform=" + kExamples + "/mnist/platform/docker.yaml"});
  ASSERT_EQ(config.exit_code, 0) << config.err;
  EXPECT_THAT(config.out, HasSubstr("image: mlcube/mnist:0.1.0"));
}

TEST(CliTest, ShowConfigAppliesOverridesAndWorkspace) {
  CommandResult result = Cli({"show-config", "--mlcube=" + kData + "/legacy/mnist", "-P",
                              "docker.image=me/x:2", "--workspace=/scratch/ws",
                              "--platform=" + kData + "/legacy/mnist/platform/docker.yaml"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("image: me/x:2"));
  EXPECT_THAT(result.out, HasSubstr("workspace: /scratch/ws"));
  EXPECT_THAT(result.out, Not(HasSubstr("${")));
}

TEST(CliTest, BadCubeExitsTwoWithOneLine) {
  TempDir dir;
  dir.WriteFile("mlcube.yaml",
                "name: d\ntasks:\n  train:\n    parameters:\n      inputs:\n"
                "        data_dir: {type: dir}\n");
  CommandResult result = Cli({"describe", "--mlcube=" + dir.path()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, "mlcube-remote: error: " + dir.path() +
                            "/mlcube.yaml: tasks.train.parameters.inputs.data_dir.type: expected "
                            "'file' or 'directory', got 'dir'\n");
}

TEST(CliTest, MissingCubeAndBadFlagsExitTwo) {
  CommandResult missing = Cli({"show-config", "--mlcube=/does/not/exist"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("/does/not/exist"));
  EXPECT_EQ(Cli({"describe", "--no-such-flag"}).exit_code, 2);
  EXPECT_EQ(Cli({"no-such-command"}).exit_code, 2);
  CommandResult bad_override =
      Cli({"show-config", "--mlcube=" + kData + "/single_file/mnist", "-P", "name.x=1"});
  EXPECT_EQ(bad_override.exit_code, 2);
  EXPECT_THAT(bad_override.err, HasSubstr("-P name.x=1"));
}

TEST(CliTest, MalformedYamlNamesFileAndLine) {
  TempDir dir;
  dir.WriteFile("mlcube.yaml", "name: d\ntasks: {t: [\n");
  CommandResult result = Cli({"describe", "--mlcube=" + dir.path() + "/mlcube.yaml"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr(dir.path() + "/mlcube.yaml:"));
  EXPECT_THAT(result.err, HasSubstr("invalid YAML"));
}

}  // namespace
}  // namespace mlcube
