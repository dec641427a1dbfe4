// Every real cube under MLCUBE_REALCUBES_DIR/cases, task by task and
// platform by platform, planned through the agent's own code path (cube
// loader, mount planner, runtime command lines) and compared with what
// MLCube's own runners produce (MLCUBE_REALCUBES_DIR/expected). A cube added
// under cases/ (with its expected/ file) is tested with no code change.

#include <dirent.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <stdlib.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "agent/jobs/task_step.h"
#include "agent/runtimes/apptainer_runtime.h"
#include "agent/runtimes/docker_runtime.h"
#include "common/cube_loader.h"
#include "common/effective_config.h"
#include "common/legacy_cube_converter.h"
#include "common/mount_planner.h"
#include "common/safe_path.h"
#include "common/yaml_reader.h"
#include "tests/unit/real_cube_argv.h"
#include "tests/unit/real_cube_corpus.h"

namespace mlcube {
namespace {

const char kOwner[] = "tester";
const char kJobId[] = "dryrun";

// Platforms whose expected/ has MLCube's show_config (the older layout's
// runners have none: nothing to compare there).
std::vector<PlatformCase> ConfigCases() {
  std::vector<PlatformCase> cases;
  for (const PlatformCase& p : PlatformCases()) {
    if (Expected(p.cube)["platforms"][p.platform]["config"].IsDefined()) cases.push_back(p);
  }
  return cases;
}

// The cube as the agent loads it for this platform (and run file).
absl::StatusOr<Cube> LoadFor(const std::string& cube, const std::string& platform,
                             const std::string& run_file, std::string* task_name) {
  const std::string root = absl::StrCat(CorpusDir(), "/cases/", cube);
  CubeLoadOptions options;
  options.path = root;
  if (IsOlderLayout(cube)) {
    options.platform_file = absl::StrCat(root, "/", platform);
    if (!run_file.empty()) {
      absl::StatusOr<YAML::Node> content = ReadYamlFile(root + "/" + run_file, run_file);
      if (!content.ok()) return content.status();
      auto bound = RunFileAsOverrides({run_file, *content});
      if (!bound.ok()) return bound.status();
      options.overrides = bound->second;
      *task_name = bound->first;
    }
  } else if (task_name != nullptr) {
    *task_name = run_file;
  }
  return LoadCube(options);
}

std::unique_ptr<ContainerRuntime> RuntimeFor(const std::string& runner) {
  if (runner == "docker") return std::make_unique<DockerRuntime>("docker", "docker");
  return std::make_unique<ApptainerRuntime>("singularity", "singularity", "");
}

StepContext DryRunContext() {
  StepContext context;
  context.job_id = kJobId;
  context.owner = kOwner;
  context.uid = 1000;
  context.gid = 1000;
  context.image_dir = "/agent-images";
  context.job_dir = "/agent-job";
  context.step_prefix = "/agent-job/step-0";
  context.dry_run = true;
  return context;
}

// Our paths written the way expected/ writes them.
ArgvNormalizer NormalizerFor(const std::string& cube) {
  const char* home = getenv("HOME");
  return ArgvNormalizer(absl::StrCat(CorpusDir(), "/cases/", cube), home ? home : "/root");
}

class RealCubeTaskTest : public ::testing::TestWithParam<TaskCase> {
 protected:
  static void SetUpTestSuite() {
    for (const char* name : {"http_proxy", "https_proxy", "no_proxy", "ftp_proxy", "HTTP_PROXY",
                             "HTTPS_PROXY", "NO_PROXY", "FTP_PROXY"}) {
      unsetenv(name);
    }
  }
};

TEST_P(RealCubeTaskTest, MatchesMlcube) {
  const TaskCase& c = GetParam();
  const YAML::Node platform = Expected(c.cube)["platforms"][c.platform];
  const YAML::Node expected = platform["tasks"][c.task];
  std::string task_name;
  absl::StatusOr<Cube> cube = LoadFor(c.cube, c.platform, c.task, &task_name);
  ASSERT_TRUE(cube.ok()) << cube.status();
  ASSERT_EQ(cube->tasks.count(task_name), 1u) << task_name;
  // The agent's own step planning, as `run --dry-run` does it.
  const std::string runner = RunnerOf(platform);
  std::unique_ptr<ContainerRuntime> runtime = RuntimeFor(runner);
  absl::StatusOr<PlannedTaskStep> step =
      PrepareTaskStep(*cube, task_name, *runtime, DryRunContext());
  if (expected["error"].IsDefined()) {
    const std::string parameter = RefusedParameter(expected["error"].as<std::string>());
    ASSERT_FALSE(step.ok()) << "MLCube refuses: " << expected["error"].as<std::string>();
    EXPECT_TRUE(absl::StrContains(step.status().message(), parameter))
        << step.status() << " does not name " << parameter;
    return;
  }
  ASSERT_TRUE(step.ok()) << step.status();
  const StepCommand* command = &step->command;

  const ArgvNormalizer normalizer = NormalizerFor(c.cube);
  const YAML::Node commands = expected["commands_argv"];
  const std::vector<std::string> theirs =
      commands[commands.size() - 1].as<std::vector<std::string>>();
  const std::vector<std::string> ours = normalizer.Normalize(command->argv);
  const std::string image = ExpectedImage(platform, runner);
  const bool built = ExpectedConfigureBuilds(platform);
  const std::string our_image = runner == "docker" && built ? OwnerImageTag(kOwner, image) : image;
  RunLine expected_line = ParseRunLine(theirs, runner, image);
  RunLine our_line = ParseRunLine(ours, runner, our_image);
  AddShownEnv(command->shown_env, &our_line);
  if (our_line.image == our_image) our_line.image = image;  // the agent's own build
  ExpectSameRunLine(expected_line, our_line);

  std::set<std::string> expected_dirs;
  for (const YAML::Node& dir : expected["would_create"])
    expected_dirs.insert(dir.as<std::string>());
  if (runner != "docker") expected_dirs.erase(ExpectedImageDir(platform));
  std::set<std::string> our_dirs;
  for (const std::string& dir : normalizer.Normalize(step->creates)) {
    our_dirs.insert(dir);
  }
  EXPECT_EQ(expected_dirs, our_dirs) << "directories created";
}

INSTANTIATE_TEST_SUITE_P(RealCubes, RealCubeTaskTest, ::testing::ValuesIn(TaskCases()),
                         [](const ::testing::TestParamInfo<TaskCase>& info) {
                           return TestName({info.param.cube, info.param.platform, info.param.task});
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RealCubeTaskTest);

class RealCubePlatformTest : public ::testing::TestWithParam<PlatformCase> {};

TEST_P(RealCubePlatformTest, ConfigureMatchesMlcube) {
  const PlatformCase& c = GetParam();
  const YAML::Node platform = Expected(c.cube)["platforms"][c.platform];
  absl::StatusOr<Cube> cube = LoadFor(c.cube, c.platform, "", nullptr);
  ASSERT_TRUE(cube.ok()) << cube.status();
  if (platform["configure_error"].IsDefined()) {
    GTEST_SKIP() << "MLCube's own configure failed (" << platform["configure_error"]
                 << "): nothing to compare with";
  }
  const std::string runner = RunnerOf(platform);
  std::unique_ptr<ContainerRuntime> runtime = RuntimeFor(runner);
  std::string notes;
  absl::StatusOr<StepCommand> command = runtime->ConfigureCommand(*cube, DryRunContext(), &notes);
  const std::string& context_dir =
      runner == "docker" ? cube->docker.build_context : cube->singularity.build_context;
  // A pull reads no build context wherever it is: compared below like any.
  const bool pulls = command.ok() && command->argv.size() > 1 && command->argv[1] == "pull";
  if (!pulls && !IsWithin(NormalizePath(context_dir), NormalizePath(cube->root))) {
    // Known difference: MLCube builds from a context outside the cube; the
    // agent reads nothing outside the synced cube (and refuses it at submit).
    EXPECT_EQ(command.status().code(), absl::StatusCode::kInvalidArgument) << command.status();
    EXPECT_NE(std::string(command.status().message()).find("is outside the cube directory"),
              std::string::npos)
        << command.status();
    return;
  }
  ASSERT_TRUE(command.ok()) << command.status();
  const YAML::Node configure = platform["configure_argv"];
  ASSERT_GT(configure.size(), 0u);
  const ArgvNormalizer normalizer = NormalizerFor(c.cube);
  ConfigureLine theirs =
      ParseExpectedConfigure(configure[configure.size() - 1].as<std::vector<std::string>>());
  std::vector<std::string> argv = normalizer.Normalize(command->argv);
  ConfigureLine ours = ParseOurConfigure(argv, normalizer.NormalizeOne(command->cwd), kJobId);
  // The agent builds from a copy of the recipe it checked (read beneath the
  // build context), in the job's directory.
  const std::string recipe = normalizer.NormalizeOne(
      absl::StrCat(context_dir, "/",
                   runner == "docker" ? cube->docker.build_file : cube->singularity.build_file));
  if (ours.file == "/agent-job/step-0.Dockerfile") ours.file = recipe;
  if (ours.source == "/agent-job/step-0.def") ours.source = recipe;
  if (runner == "docker" && theirs.kind == "build") {
    theirs.image = OwnerImageTag(kOwner, theirs.image);
  }
  ExpectSameConfigure(theirs, ours);
}

INSTANTIATE_TEST_SUITE_P(RealCubes, RealCubePlatformTest, ::testing::ValuesIn(PlatformCases()),
                         [](const ::testing::TestParamInfo<PlatformCase>& info) {
                           return TestName({info.param.cube, info.param.platform});
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RealCubePlatformTest);

class RealCubeConfigTest : public ::testing::TestWithParam<PlatformCase> {};

TEST_P(RealCubeConfigTest, EffectiveConfigMatchesMlcube) {
  const PlatformCase& c = GetParam();
  const YAML::Node platform = Expected(c.cube)["platforms"][c.platform];
  absl::StatusOr<Cube> cube = LoadFor(c.cube, c.platform, "", nullptr);
  ASSERT_TRUE(cube.ok()) << cube.status();
  const ArgvNormalizer normalizer = NormalizerFor(c.cube);
  YAML::Node ours = EffectiveConfig(*cube).ForRunner(RunnerOf(platform));
  ExpectSameConfig(platform["config"], ours, normalizer);
}

INSTANTIATE_TEST_SUITE_P(RealCubes, RealCubeConfigTest, ::testing::ValuesIn(ConfigCases()),
                         [](const ::testing::TestParamInfo<PlatformCase>& info) {
                           return TestName({info.param.cube, info.param.platform});
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RealCubeConfigTest);

TEST(RealCubesCorpusTest, CorpusIsThere) {
  const std::vector<std::string> names = CaseNames();
  ASSERT_FALSE(names.empty()) << "no cubes under " << CorpusDir() << "/cases";
  for (const std::string& name : names) {
    EXPECT_TRUE(Expected(name).IsMap()) << "expected/" << name << ".json is missing or unreadable";
  }
}

}  // namespace
}  // namespace mlcube
