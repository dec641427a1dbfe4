// Real MLCube cubes through `mlcube-remote run` against a real agent (as the
// unprivileged `mlcube` user), real Docker and real Apptainer:
// - a MedPerf cube whose build context is ../project, built from the copy
//   of that context the run pushes;
// - an older-layout cube (platforms/*.yaml, run/alice/hello.yaml) on Docker
//   and on Apptainer;
// - `run --dry-run --json` for every task of every cube in the corpus,
//   compared with what MLCube's own runners produce (expected/).
// No registry: the images are stand-ins built FROM scratch with busybox
// under the cube's own image name; their entrypoint writes what the task
// declares.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/runtimes/container_runtime.h"
#include "tests/integration/agent_process.h"
#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/real_cube_argv.h"
#include "tests/unit/real_cube_corpus.h"

namespace mlcube {
namespace {

using ::mlcube::testing::CommandResult;
using ::mlcube::testing::ReadFileContent;
using ::mlcube::testing::RunCommand;
using ::mlcube::testing::TempDir;
using ::mlcube_test::AgentProcess;
using ::mlcube_test::AgentProcessOptions;
using ::testing::HasSubstr;

const std::string kBinary = MLCUBE_REMOTE_BINARY;
const std::string kBusybox = std::string(MLCUBE_EXAMPLES_DIR) + "/hello/build/busybox";

// A real agent shared by a suite, with a hosts file naming it twice: host
// `docker` and host `singularity` (the runtime each runs with).
class SharedAgent {
 public:
  SharedAgent() {
    AgentProcessOptions options;
    options.user = "mlcube";
    // Without the admin's task limits (--pids-limit and --memory are the
    // agent's additions): the plans are compared with MLCube's as they are.
    EXPECT_EQ(chmod(dir_.path().c_str(), 0755), 0);
    dir_.WriteFile("agent.yaml", "limits: {task_pids: 0, task_memory: 0}\n");
    options.extra_args = {"--config=" + dir_.path() + "/agent.yaml"};
    agent_ = std::make_unique<AgentProcess>(options);
  }
  bool Start() {
    if (!agent_->Start()) return false;
    std::string hosts = "default_host: docker\nhosts:\n";
    for (const char* runtime : {"docker", "singularity"}) {
      absl::StrAppend(&hosts, "  ", runtime, ":\n    address: unix://", agent_->socket_path(),
                      "\n    runtime: ", runtime, "\n");
    }
    dir_.WriteFile("hosts.yaml", hosts);
    return true;
  }
  CommandResult Cli(const std::vector<std::string>& args, int timeout = 300) const {
    std::vector<std::string> argv = {kBinary, "--hosts=" + dir_.path() + "/hosts.yaml"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, {"NO_COLOR=1", "HOME=" + dir_.path()}, timeout);
  }
  const TempDir& dir() const { return dir_; }
  AgentProcess& agent() { return *agent_; }

 private:
  TempDir dir_;
  std::unique_ptr<AgentProcess> agent_;
};

std::string Owner() { return absl::StrCat("uid-", getuid()); }

void WriteFileAt(const std::string& path, const std::string& content) {
  ASSERT_EQ(mlcube_test::Shell("mkdir -p \"$(dirname '" + path + "')\""), 0);
  std::ofstream(path, std::ios::binary) << content;
}

// Copies the corpus cube NAME to DEST, writable (the corpus is read-only).
void CopyCase(const std::string& name, const std::string& dest) {
  ASSERT_EQ(mlcube_test::Shell(absl::StrCat("mkdir -p \"$(dirname '", dest, "')\" && cp -R '",
                                            CorpusDir(), "/cases/", name, "' '", dest,
                                            "' && chmod -R u+rwX '", dest, "'")),
            0);
}

// A stand-in image recipe in DIR (Dockerfile and Singularity.recipe, both
// FROM scratch with busybox) whose entrypoint is `script`.
void WriteStandIn(const std::string& dir, const std::string& script) {
  ASSERT_EQ(::access(kBusybox.c_str(), X_OK), 0)
      << kBusybox << " is missing: run tools/prepare-examples.sh";
  ASSERT_EQ(mlcube_test::Shell("mkdir -p '" + dir + "' && cp " + kBusybox + " '" + dir + "/'"), 0);
  WriteFileAt(dir + "/entry.sh", script);
  WriteFileAt(dir + "/Dockerfile",
              "FROM scratch\nCOPY busybox /bin/busybox\n"
              "RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
              "RUN mkdir -p /tmp /etc && chmod 1777 /tmp"
              " && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd"
              " && echo 'root:x:0:' > /etc/group\n"
              "COPY entry.sh /entry.sh\nENTRYPOINT [\"/bin/sh\", \"/entry.sh\"]\n");
  WriteFileAt(dir + "/Singularity.recipe",
              "Bootstrap: scratch\n\n%files\n    busybox /bin/busybox\n"
              "    busybox /bin/sh\n    entry.sh /entry.sh\n\n%post\n"
              "    /bin/busybox --install -s /bin\n"
              "    echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd\n"
              "    echo 'root:x:0:' > /etc/group\n\n"
              "%runscript\n    exec /bin/sh /entry.sh \"$@\"\n");
}

class RealCubeRunTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(shared_.Start()) << shared_.agent().Stderr(); }
  void TearDown() override {
    for (const std::string& image : images_) {
      (void)mlcube_test::Shell("docker image rm -f '" + image + "' >/dev/null 2>&1");
    }
  }
  SharedAgent shared_;
  TempDir dir_;
  std::vector<std::string> images_;
};

// The metrics cube of MedPerf's ChestXRay example: `build_context:
// ../project`, no build_strategy (pull), untyped parameters.
constexpr char kMetricsScript[] =
    "task=$1; shift\n"
    "for a in \"$@\"; do case \"$a\" in\n"
    "  --predictions=*) ls \"${a#--predictions=}\" ;;\n"
    "  --output_path=*) echo \"stand-in $task\" > \"${a#--output_path=}\" ;;\n"
    "esac; done\n";

TEST_F(RealCubeRunTest, MedperfCubeBuildsFromItsBuildContextOutsideTheCube) {
  const std::string project = dir_.path() + "/metrics";
  ASSERT_NO_FATAL_FAILURE(CopyCase("medperf_ChestXRay_metrics", project + "/mlcube"));
  ASSERT_NO_FATAL_FAILURE(WriteStandIn(project + "/project", kMetricsScript));
  // What .dockerignore keeps out never moves.
  WriteFileAt(project + "/project/.dockerignore", "data\n");
  WriteFileAt(project + "/project/data/huge.bin", "not for the host\n");
  images_.push_back(OwnerImageTag(Owner(), "mlcommons/metrics:0.1.0"));
  // As the cube says (pull): the context stays here and the image is pulled.
  CommandResult pull =
      shared_.Cli({"run", "--dry-run", "--mlcube=" + project + "/mlcube", "--task=evaluate"});
  ASSERT_EQ(pull.exit_code, 0) << pull.err;
  EXPECT_THAT(pull.out, HasSubstr(" pull mlcommons/metrics:0.1.0"));
  // A build: the context travels as its own tree and the host builds from it.
  CommandResult run = shared_.Cli({"run", "--mlcube=" + project + "/mlcube", "--task=evaluate",
                                   "-P", "docker.build_strategy=auto"});
  ASSERT_EQ(run.exit_code, 0) << run.err << "\nagent:\n" << shared_.agent().Stderr();
  // `predictions` has no type: an existing directory, mounted as one.
  EXPECT_THAT(run.out, HasSubstr("predictions.csv"));
  EXPECT_EQ(ReadFileContent(project + "/mlcube/workspace/results.yaml"), "stand-in evaluate\n");
  std::string contexts;
  ASSERT_EQ(mlcube_test::Shell("cd " + shared_.agent().state_dir() + "/cubes/" + Owner() +
                                   " && ls -d project_build-context-*/*",
                               &contexts),
            0);
  EXPECT_THAT(contexts, HasSubstr("/Dockerfile"));
  EXPECT_THAT(contexts, ::testing::Not(HasSubstr("data")));
  // Deleting the cube from the host deletes that copy of its context too.
  CommandResult deleted =
      shared_.Cli({"sync", "delete", "--yes", "--mlcube=" + project + "/mlcube"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_NE(
      mlcube_test::Shell("cd " + shared_.agent().state_dir() + "/cubes/" + Owner() +
                         " && ls -d project_build-context-* mlcube-* 2>/dev/null | grep -q ."),
      0);
}

TEST_F(RealCubeRunTest, UnreadableBuildContextIsAnErrorOnlyWhenABuildIsAsked) {
  const std::string project = dir_.path() + "/metrics";
  ASSERT_NO_FATAL_FAILURE(CopyCase("medperf_ChestXRay_metrics", project + "/mlcube"));
  CommandResult always = shared_.Cli({"run", "--mlcube=" + project + "/mlcube", "--task=evaluate",
                                      "-P", "docker.build_strategy=always"});
  EXPECT_EQ(always.exit_code, 2) << always.err;
  EXPECT_THAT(always.err, HasSubstr("docker.build_context: " + project + "/project"));
  EXPECT_THAT(always.err, ::testing::Not(HasSubstr("synced")));  // before anything moved
  CommandResult plan = shared_.Cli({"run", "--dry-run", "--mlcube=" + project + "/mlcube",
                                    "--task=evaluate", "-P", "docker.build_strategy=auto"});
  EXPECT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_THAT(plan.err, HasSubstr("the host pulls the image unless it has it"));
}

TEST_F(RealCubeRunTest, AcceleratorCountOnAHostWithoutGpusFailsBeforeAnythingMoves) {
  ASSERT_NE(mlcube_test::Shell("command -v nvidia-smi >/dev/null"), 0)
      << "this test needs a host without GPUs";
  const std::string cube = dir_.path() + "/metrics/mlcube";
  ASSERT_NO_FATAL_FAILURE(CopyCase("medperf_ChestXRay_metrics", cube));
  const std::vector<std::string> run = {"run", "--mlcube=" + cube, "--task=evaluate", "-P",
                                        "platform.accelerator_count=2"};
  CommandResult refused = shared_.Cli(run);
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("platform.accelerator_count: 2 asks for GPUs"));
  EXPECT_THAT(refused.err, HasSubstr("-P platform.accelerator_count=0"));
  EXPECT_THAT(refused.err, ::testing::Not(HasSubstr("synced")));  // nothing moved
  std::vector<std::string> dry = run;
  dry.push_back("--dry-run");
  CommandResult plan = shared_.Cli(dry);
  EXPECT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_THAT(plan.err, HasSubstr("asks for GPUs"));
  EXPECT_THAT(plan.out, HasSubstr("--gpus 2"));
}

// old_hello_world: the task reads names/alice.txt, writes chats/....
constexpr char kHelloScript[] =
    "task=$1; shift\n"
    "for a in \"$@\"; do case \"$a\" in\n"
    "  --name=*) name=$(cat \"${a#--name=}\") ;;\n"
    "  --chat=*) chat=${a#--chat=} ;;\n"
    "esac; done\n"
    "echo \"$task, $name\" | tee \"$chat\"\n";

TEST_F(RealCubeRunTest, OlderLayoutCubeRunsOnDockerAndApptainer) {
  const std::string cube = dir_.path() + "/hello_world";
  ASSERT_NO_FATAL_FAILURE(CopyCase("old_hello_world", cube));
  // Its build/ holds the stand-in under the cube's own image name.
  ASSERT_NO_FATAL_FAILURE(WriteStandIn(cube + "/build", kHelloScript));
  images_.push_back(OwnerImageTag(Owner(), "mlperf/mlbox_hello_world:0.0.1"));
  for (const char* platform : {"docker", "singularity"}) {
    SCOPED_TRACE(platform);
    (void)mlcube_test::Shell("rm -rf " + cube + "/workspace/chats");
    CommandResult run = shared_.Cli({"run", "--mlcube=" + cube,
                                     "--platform=" + cube + "/platforms/" + platform + ".yaml",
                                     "--task=" + cube + "/run/alice/hello.yaml"});
    ASSERT_EQ(run.exit_code, 0) << run.err << "\nagent:\n" << shared_.agent().Stderr();
    EXPECT_THAT(run.out, HasSubstr("hello, "));
    // The job log names the command the agent ran.
    EXPECT_THAT(run.err, HasSubstr(std::string(platform) == "docker" ? "docker run" : "apptainer"));
    const std::string alice = ReadFileContent(cube + "/workspace/names/alice.txt");
    EXPECT_EQ(ReadFileContent(cube + "/workspace/chats/chat_with_alice.txt"),
              absl::StrCat("hello, ", alice.substr(0, alice.find_last_not_of('\n') + 1), "\n"));
  }
}

// ---- run --dry-run --json against expected/, every task of every cube ----

class RealCubeDryRunTest : public ::testing::TestWithParam<TaskCase> {
 protected:
  static void SetUpTestSuite() {
    shared_ = new SharedAgent();
    ASSERT_TRUE(shared_->Start()) << shared_->agent().Stderr();
  }
  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
  }
  static SharedAgent* shared_;
};
SharedAgent* RealCubeDryRunTest::shared_ = nullptr;

// The agent user's home: `~` in a cube is expanded where the cube loads.
std::string AgentHome() {
  const passwd* pw = getpwnam("mlcube");
  return pw ? pw->pw_dir : "/nonexistent";
}

TEST_P(RealCubeDryRunTest, MatchesMlcube) {
  ASSERT_NE(shared_, nullptr);
  const TaskCase& c = GetParam();
  const YAML::Node platform = Expected(c.cube)["platforms"][c.platform];
  const YAML::Node expected = platform["tasks"][c.task];
  const std::string runner = RunnerOf(platform);
  TempDir dir;
  const std::string cube = dir.path() + "/" + c.cube;
  ASSERT_NO_FATAL_FAILURE(CopyCase(c.cube, cube));
  std::vector<std::string> args = {"run", "--dry-run", "--json", "--mlcube=" + cube,
                                   "--host=" + runner};
  if (IsOlderLayout(c.cube)) {
    args.push_back("--platform=" + cube + "/" + c.platform);
    args.push_back("--task=" + cube + "/" + c.task);
  } else {
    args.push_back("--task=" + c.task);
  }
  CommandResult result = shared_->Cli(args, 120);
  if (expected["error"].IsDefined()) {
    EXPECT_NE(result.exit_code, 0) << "MLCube refuses: " << expected["error"].as<std::string>();
    EXPECT_THAT(result.err, HasSubstr(RefusedParameter(expected["error"].as<std::string>())));
    return;
  }
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const YAML::Node plan = YAML::Load(result.out);
  const YAML::Node steps = plan["steps"];
  ASSERT_TRUE(steps.IsSequence() && steps.size() > 0) << result.out;
  const YAML::Node task = steps[steps.size() - 1];
  ASSERT_EQ(task["kind"].as<std::string>(), "task") << result.out;
  ASSERT_FALSE(task["error"].IsDefined()) << task["error"].as<std::string>();

  const ArgvNormalizer normalizer(plan["cube_root"].as<std::string>(), AgentHome());
  const std::string image = ExpectedImage(platform, runner);
  const bool built = ExpectedConfigureBuilds(platform);
  const std::string our_image = runner == "docker" && built ? OwnerImageTag(Owner(), image) : image;
  const YAML::Node commands = expected["commands_argv"];
  RunLine theirs =
      ParseRunLine(commands[commands.size() - 1].as<std::vector<std::string>>(), runner, image);
  RunLine ours = ParseRunLine(normalizer.Normalize(task["argv"].as<std::vector<std::string>>()),
                              runner, our_image);
  if (task["env"].IsDefined()) AddShownEnv(task["env"].as<std::vector<std::string>>(), &ours);
  if (ours.image == our_image) ours.image = image;  // the agent's own build
  ExpectSameRunLine(theirs, ours);

  std::set<std::string> expected_dirs;
  for (const YAML::Node& d : expected["would_create"]) expected_dirs.insert(d.as<std::string>());
  if (runner != "docker") expected_dirs.erase(ExpectedImageDir(platform));
  std::set<std::string> our_dirs;
  for (const std::string& d :
       normalizer.Normalize(task["creates"].as<std::vector<std::string>>())) {
    our_dirs.insert(d);
  }
  EXPECT_EQ(expected_dirs, our_dirs) << "directories created";

  // Nothing is on the host yet, so the configure step comes first.
  const YAML::Node configure = platform["configure_argv"];
  if (platform["configure_error"].IsDefined() || !configure.IsSequence()) return;
  ASSERT_EQ(steps[0]["kind"].as<std::string>(), "configure") << result.out;
  const std::string cwd = steps[0]["cwd"].IsDefined() ? steps[0]["cwd"].as<std::string>() : "";
  ConfigureLine their_configure =
      ParseExpectedConfigure(configure[configure.size() - 1].as<std::vector<std::string>>());
  ConfigureLine our_configure =
      ParseOurConfigure(normalizer.Normalize(steps[0]["argv"].as<std::vector<std::string>>()),
                        normalizer.NormalizeOne(cwd), "dry-run");
  if (runner == "docker" && their_configure.kind == "build") {
    their_configure.image = OwnerImageTag(Owner(), their_configure.image);
  }
  ExpectSameConfigure(their_configure, our_configure);
}

INSTANTIATE_TEST_SUITE_P(RealCubes, RealCubeDryRunTest, ::testing::ValuesIn(TaskCases()),
                         [](const ::testing::TestParamInfo<TaskCase>& info) {
                           return TestName({info.param.cube, info.param.platform, info.param.task});
                         });

TEST(RealCubesCorpusTest, CorpusIsThere) {
  ASSERT_FALSE(TaskCases().empty()) << "no cubes with expected/ files under " << CorpusDir();
}

}  // namespace
}  // namespace mlcube
