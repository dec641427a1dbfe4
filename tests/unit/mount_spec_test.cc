// Mount paths the runtimes' mount grammars would split: refused when the
// task is planned (at submit, naming the parameter) and again when a
// runtime writes its command line.

#include "agent/runtimes/mount_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/runtimes/apptainer_runtime.h"
#include "agent/runtimes/docker_runtime.h"
#include "common/mount_planner.h"
#include "common/safe_path.h"

namespace mlcube {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr MountGrammar kApptainer = MountGrammar::kApptainerBind;
constexpr MountGrammar kDocker = MountGrammar::kDockerVolume;

TEST(MountSpecTest, PlainPathsPassBothGrammars) {
  for (const char* path : {"/ws", "/ws/out dir/x", "/ws/données", "/ws/a-b_c.d", "/mlcube_io0",
                           "/ws/=@+%&'$(x)[y]{z}*?!#~"}) {
    EXPECT_TRUE(MountSpec::CheckPathForEveryRuntime(path).ok()) << path;
  }
  EXPECT_EQ(*MountSpec::Render(kApptainer, "/ws/a", "/mlcube_io0", true), "/ws/a:/mlcube_io0:ro");
  EXPECT_EQ(*MountSpec::Render(kDocker, "/ws/a", "/mlcube_io0", false), "/ws/a:/mlcube_io0");
}

TEST(MountSpecTest, EachGrammarsSeparatorsAreRefused) {
  struct Case {
    std::string path;
    bool apptainer_ok;
    bool docker_ok;
  };
  const std::vector<Case> cases = {
      {"/ws/.,/home/u", false, false},  // apptainer: a second bind of the user's home
      {"/ws/a:/etc", false, false},     // both: source:destination
      {"/ws/a^/home/u", false, true},   // apptainer splits binds on '^' too
      {"/ws/a\\", false, true},         // apptainer: '\:' escapes the next ':'
      {"/ws/\"a\"", false, true},       // pflag's CSV quotes
      {"/ws/a\n/home", false, false},   // a newline ends the CSV record
      {"/ws/a\x7f", false, false},
      {"/ws/a\xc2\x85", false, false},     // C1 control (U+0085)
      {"/ws/a\xff", false, false},         // not UTF-8: Go's JSON writes U+FFFD
      {"/ws/\xc0\xaf", false, false},      // overlong '/'
      {"/ws/a ", false, true},             // apptainer trims white space
      {"/ws/a\xe3\x80\x80", false, true},  // U+3000 ideographic space, trimmed too
      {"ws/relative", false, false},
      {"", false, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(MountSpec::CheckPath(kApptainer, c.path).ok(), c.apptainer_ok)
        << PrintableExcerpt(c.path);
    EXPECT_EQ(MountSpec::CheckPath(kDocker, c.path).ok(), c.docker_ok) << PrintableExcerpt(c.path);
    EXPECT_FALSE(MountSpec::CheckPathForEveryRuntime(c.path).ok()) << PrintableExcerpt(c.path);
  }
  EXPECT_FALSE(MountSpec::Render(kApptainer, "/ws/.,/home/u", "/mlcube_io0", false).ok());
  EXPECT_FALSE(MountSpec::Render(kDocker, "/ws", "/mlcube_io0:/x", false).ok());
}

// What the agent plans: the workspace-confined plan with the mount check
// (agent/jobs/task_step.cc does the same).
absl::StatusOr<TaskInvocation> AgentPlan(const Task& task) {
  MountPlanOptions options;
  options.confine_to = "/state/ws";
  options.check_mount_path = [](const std::string& path) {
    return MountSpec::CheckPathForEveryRuntime(path);
  };
  return PlanTaskInvocation(task, options);
}

Parameter Output(const std::string& name, const std::string& value, ParameterType type) {
  Parameter p;
  p.name = name;
  p.type = type;
  p.default_value = value;
  p.host_path = "/state/ws/" + value;
  return p;
}

TEST(MountSpecTest, AnOutputWithABindListSeparatorIsRefusedNamingIt) {
  Task task;
  task.name = "train";
  task.outputs = {Output("model_dir", ".,/home/user/", ParameterType::kDirectory)};
  auto plan = AgentPlan(task);
  ASSERT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(plan.status().message());
  EXPECT_THAT(message, HasSubstr("tasks.train.parameters.outputs.model_dir: "));
  EXPECT_THAT(message, HasSubstr("','"));
  EXPECT_THAT(message, Not(HasSubstr("\n")));
  // The older runners' container path holds the host path: checked too.
  task.mount_naming = MountNaming::kOlderRunners;
  EXPECT_FALSE(AgentPlan(task).ok());
  // A file's parent is what is mounted; the file name itself is the task's.
  task.mount_naming = MountNaming::kMlcube;
  task.outputs = {Output("log", "logs/a,b:c.txt", ParameterType::kFile)};
  EXPECT_TRUE(AgentPlan(task).ok()) << AgentPlan(task).status();
  task.outputs = {Output("log", "a:b/c.txt", ParameterType::kFile)};
  EXPECT_THAT(std::string(AgentPlan(task).status().message()),
              HasSubstr("tasks.train.parameters.outputs.log: "));
}

Cube CubeAt(const std::string& dir) {
  Cube cube;
  cube.name = "c";
  cube.root = dir;
  cube.workspace = dir + "/workspace";
  cube.docker.image = "mlcube/c:0.1";
  cube.docker.build_strategy = BuildStrategy::kPull;
  cube.singularity.image = "c.sif";
  return cube;
}

TEST(MountSpecTest, RuntimesRefuseToWriteASplittableMount) {
  TaskInvocation invocation;
  invocation.task = "t";
  invocation.mounts = {{"/ws/.,/home/u", "/mlcube_io0", false}};
  StepContext context;
  context.dry_run = true;
  context.job_dir = context.scratch_dir = "/nonexistent-job";
  context.image_dir = "/nonexistent-images";
  const Cube cube = CubeAt("/nonexistent-cube");
  ApptainerRuntime apptainer("apptainer", "/usr/bin/apptainer", "");
  EXPECT_EQ(apptainer.TaskCommand(cube, invocation, context).status().code(),
            absl::StatusCode::kInvalidArgument);
  DockerRuntime docker("docker", "/usr/bin/docker");
  invocation.mounts = {{"/ws/a:/etc", "/mlcube_io0", false}};
  EXPECT_EQ(docker.TaskCommand(cube, invocation, context).status().code(),
            absl::StatusCode::kInvalidArgument);
  context.uid = 2000;  // the repair container mounts the same paths
  EXPECT_EQ(docker.RepairTaskFiles(cube, {{"/ws/a:/etc", {""}}}, context).code(),
            absl::StatusCode::kInvalidArgument);
}

// Not a mount, the same kind of grammar: `--build-arg NAME=VALUE` splits at
// the first '='.
TEST(DockerBuildArgsTest, ANameHoldingAnEqualsSignIsRefused) {
  Cube cube = CubeAt("/nonexistent-cube");
  cube.docker.build_args = {{"TOKEN=mine", "x"}};
  DockerRuntime docker("docker", "/usr/bin/docker");
  auto checked = docker.CheckCube(cube, StepContext{});
  EXPECT_EQ(checked.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(checked.message()), HasSubstr("docker.build_args.TOKEN=mine"));
  cube.docker.build_args = {{"PIP_INDEX_URL", "https://x/?a=b"}};
  EXPECT_TRUE(docker.CheckCube(cube, StepContext{}).ok());
}

}  // namespace
}  // namespace mlcube
