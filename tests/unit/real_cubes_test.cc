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
#include "agent/runtimes/apptainer_runtime.h"
#include "agent/runtimes/docker_runtime.h"
#include "common/cube_loader.h"
#include "common/effective_config.h"
#include "common/legacy_cube_converter.h"
#include "common/mount_planner.h"
#include "common/safe_path.h"
#include "common/yaml_reader.h"
#include "tests/unit/real_cube_argv.h"

namespace mlcube {
namespace {

const char kOwner[] = "tester";
const char kJobId[] = "dryrun";

std::string CorpusDir() {
  char resolved[PATH_MAX];
  return realpath(MLCUBE_REALCUBES_DIR, resolved) ? resolved : MLCUBE_REALCUBES_DIR;
}

std::vector<std::string> CaseNames() {
  std::vector<std::string> names;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir((CorpusDir() + "/cases").c_str()), &closedir);
  if (!dir) return names;
  while (const dirent* entry = readdir(dir.get())) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// JSON is YAML: yaml-cpp reads expected/ as it is. Undefined when missing.
YAML::Node Expected(const std::string& cube) {
  try {
    return YAML::LoadFile(absl::StrCat(CorpusDir(), "/expected/", cube, ".json"));
  } catch (const YAML::Exception&) {
    return YAML::Node(YAML::NodeType::Undefined);
  }
}

struct TaskCase {
  std::string cube;
  std::string platform;  // "docker", "singularity" or an older layout's platform file
  std::string task;      // a task name or an older layout's run file
};

struct PlatformCase {
  std::string cube;
  std::string platform;
};

void PrintTo(const TaskCase& c, std::ostream* os) {
  *os << c.cube << " " << c.platform << " " << c.task;
}
void PrintTo(const PlatformCase& c, std::ostream* os) { *os << c.cube << " " << c.platform; }

std::string TestName(std::vector<std::string> parts) {
  std::string name = absl::StrJoin(parts, "__");
  for (char& c : name) {
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

std::vector<PlatformCase> PlatformCases() {
  std::vector<PlatformCase> cases;
  for (const std::string& cube : CaseNames()) {
    YAML::Node expected = Expected(cube);
    if (!expected.IsMap() || !expected["platforms"].IsMap()) continue;
    for (auto it = expected["platforms"].begin(); it != expected["platforms"].end(); ++it) {
      cases.push_back({cube, it->first.as<std::string>()});
    }
  }
  return cases;
}

std::vector<TaskCase> TaskCases() {
  std::vector<TaskCase> cases;
  for (const PlatformCase& p : PlatformCases()) {
    YAML::Node tasks = Expected(p.cube)["platforms"][p.platform]["tasks"];
    for (auto it = tasks.begin(); it != tasks.end(); ++it) {
      cases.push_back({p.cube, p.platform, it->first.as<std::string>()});
    }
  }
  return cases;
}

bool IsOlderLayout(const std::string& cube) {
  return Expected(cube)["layout"].as<std::string>() == "older";
}

// "docker" or "singularity": what runs a platform of the expected file.
std::string RunnerOf(const YAML::Node& platform) {
  if (platform["runner"].IsDefined()) return platform["runner"].as<std::string>();
  return platform["config"]["runner"]["runner"].as<std::string>();
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

// The parameter MLCube's refusal names ("... param=NAME, type=...").
std::string RefusedParameter(const std::string& error) {
  const size_t at = error.find("param=");
  if (at == std::string::npos) return "";
  const size_t end = error.find_first_of(",)", at);
  return error.substr(at + 6, end - at - 6);
}

// Known differences still to close, each with its reason.
const std::map<std::string, std::string>& KnownDifferences() {
  static const auto* known = new std::map<std::string, std::string>{
      {"old_mnist_openfl platforms/docker.yaml run/train.yaml",
       "the older runners pass parameters in the run file's binding order; we use the task "
       "file's order"},
  };
  return *known;
}

TEST_P(RealCubeTaskTest, MatchesMlcube) {
  const TaskCase& c = GetParam();
  auto known = KnownDifferences().find(absl::StrCat(c.cube, " ", c.platform, " ", c.task));
  if (known != KnownDifferences().end()) GTEST_SKIP() << "known difference: " << known->second;
  const YAML::Node platform = Expected(c.cube)["platforms"][c.platform];
  const YAML::Node expected = platform["tasks"][c.task];
  std::string task_name;
  absl::StatusOr<Cube> cube = LoadFor(c.cube, c.platform, c.task, &task_name);
  ASSERT_TRUE(cube.ok()) << cube.status();
  ASSERT_EQ(cube->tasks.count(task_name), 1u) << task_name;
  MountPlanOptions plan_options;
  plan_options.confine_to = cube->workspace;
  absl::StatusOr<TaskInvocation> invocation =
      PlanTaskInvocation(cube->tasks.at(task_name), plan_options);
  if (expected["error"].IsDefined()) {
    const std::string parameter = RefusedParameter(expected["error"].as<std::string>());
    ASSERT_FALSE(invocation.ok()) << "MLCube refuses: " << expected["error"].as<std::string>();
    EXPECT_TRUE(absl::StrContains(invocation.status().message(), parameter))
        << invocation.status() << " does not name " << parameter;
    return;
  }
  ASSERT_TRUE(invocation.ok()) << invocation.status();
  const std::string runner = RunnerOf(platform);
  std::unique_ptr<ContainerRuntime> runtime = RuntimeFor(runner);
  absl::StatusOr<StepCommand> command = runtime->TaskCommand(*cube, *invocation, DryRunContext());
  ASSERT_TRUE(command.ok()) << command.status();

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
  if (our_line.image == our_image) our_line.image = image;  // the agent's own build
  ExpectSameRunLine(expected_line, our_line);

  std::set<std::string> expected_dirs;
  for (const YAML::Node& dir : expected["would_create"])
    expected_dirs.insert(dir.as<std::string>());
  if (runner != "docker") expected_dirs.erase(ExpectedImageDir(platform));
  std::set<std::string> our_dirs;
  for (const std::string& dir : normalizer.Normalize(invocation->directories_to_create)) {
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
  if (platform["configure_error"].IsDefined()) return;
  const std::string runner = RunnerOf(platform);
  std::unique_ptr<ContainerRuntime> runtime = RuntimeFor(runner);
  std::string notes;
  absl::StatusOr<StepCommand> command = runtime->ConfigureCommand(*cube, DryRunContext(), &notes);
  const std::string& context_dir =
      runner == "docker" ? cube->docker.build_context : cube->singularity.build_context;
  if (!IsWithin(NormalizePath(context_dir), NormalizePath(cube->root))) {
    // Known difference: MLCube builds from a context outside the cube; the
    // agent reads nothing outside the synced cube (and refuses it at submit).
    if (command.ok() && command->argv.size() > 1 && command->argv[1] == "pull") return;
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

TEST_P(RealCubePlatformTest, EffectiveConfigMatchesMlcube) {
  const PlatformCase& c = GetParam();
  const YAML::Node platform = Expected(c.cube)["platforms"][c.platform];
  if (!platform["config"].IsDefined()) GTEST_SKIP() << "the older layout has no show_config";
  absl::StatusOr<Cube> cube = LoadFor(c.cube, c.platform, "", nullptr);
  ASSERT_TRUE(cube.ok()) << cube.status();
  const ArgvNormalizer normalizer = NormalizerFor(c.cube);
  YAML::Node ours = EffectiveConfig(*cube).ForRunner(RunnerOf(platform));
  ExpectSameConfig(platform["config"], ours, normalizer);
}

INSTANTIATE_TEST_SUITE_P(RealCubes, RealCubePlatformTest, ::testing::ValuesIn(PlatformCases()),
                         [](const ::testing::TestParamInfo<PlatformCase>& info) {
                           return TestName({info.param.cube, info.param.platform});
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RealCubePlatformTest);

TEST(RealCubesCorpusTest, CorpusIsThere) {
  const std::vector<std::string> names = CaseNames();
  ASSERT_FALSE(names.empty()) << "no cubes under " << CorpusDir() << "/cases";
  for (const std::string& name : names) {
    EXPECT_TRUE(Expected(name).IsMap()) << "expected/" << name << ".json is missing or unreadable";
  }
}

}  // namespace
}  // namespace mlcube
