// What real cubes need from the agent beyond the corpus comparison: MLCube's
// GPU flags (order, duplicates, platform.accelerator_count), build contexts
// outside the cube, .dockerignore in a pushed build context, and untyped
// parameters decided when the task starts.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "agent/jobs/build_context_placement.h"
#include "agent/jobs/task_step.h"
#include "agent/runtimes/docker_runtime.h"
#include "controller/sync/ignore_rules.h"

namespace mlcube {
namespace {

Cube GpuCube() {
  Cube cube;
  cube.name = "gpu";
  cube.root = "/state/cubes/uid-1/gpu";
  cube.workspace = cube.root + "/workspace";
  cube.docker.image = "mlcube/gpu:0.1";
  cube.docker.gpu_args = "--shm-size=1g --gpus=all";
  cube.docker.cpu_args = "--shm-size=512m";
  cube.docker.env_args = "-e A=1";
  return cube;
}

TaskInvocation Invocation() {
  TaskInvocation inv;
  inv.task = "train";
  inv.args = {"train"};
  return inv;
}

StepContext DryRun(const std::string& gpus) {
  StepContext context;
  context.job_id = "0badcafe";
  context.dry_run = true;
  context.gpus = gpus;
  return context;
}

// The run options between `run` and the image, without ours (--rm, --name...).
std::vector<std::string> RunOptions(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "mlcube/gpu:0.1") break;
    if (a == "--shm-size=1g" || a == "--shm-size=512m" || a == "--gpus=all" || a == "--gpus" ||
        a == "-e" || a == "A=1") {
      out.push_back(a);
    } else if (i > 0 && argv[i - 1] == "--gpus") {
      out.push_back(a);
    }
  }
  return out;
}

TEST(DockerGpuFlagsTest, AcceleratorCountAsksForGpusWhenGpusIsNotGiven) {
  EXPECT_EQ(DockerGpuSpec(0, ""), "");
  EXPECT_EQ(DockerGpuSpec(2, ""), "2");
  EXPECT_EQ(DockerGpuSpec(2, "all"), "all");
  EXPECT_EQ(DockerGpuSpec(0, "device=1"), "device=1");
}

TEST(DockerGpuFlagsTest, GpuArgsThenGpusThenEnvArgsDuplicatesKeptAsMlcube) {
  DockerRuntime docker("docker", "/usr/bin/docker");
  Cube cube = GpuCube();
  cube.accelerator_count = 1;
  auto command = docker.TaskCommand(cube, Invocation(), DryRun(""));
  ASSERT_TRUE(command.ok()) << command.status();
  // MLCube: `docker run {gpu_args} --gpus=1 {env_args} ...`.
  EXPECT_EQ(RunOptions(command->argv),
            (std::vector<std::string>{"--shm-size=1g", "--gpus=all", "--gpus", "1", "-e", "A=1"}));
}

TEST(DockerGpuFlagsTest, GivenGpusWinOverAcceleratorCount) {
  DockerRuntime docker("docker", "/usr/bin/docker");
  Cube cube = GpuCube();
  cube.accelerator_count = 4;
  auto command = docker.TaskCommand(cube, Invocation(), DryRun("device=0,1"));
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(RunOptions(command->argv),
            (std::vector<std::string>{"--shm-size=1g", "--gpus=all", "--gpus", "\"device=0,1\"",
                                      "-e", "A=1"}));
}

TEST(DockerGpuFlagsTest, NoGpusMeansCpuArgsAndNoGpusFlag) {
  DockerRuntime docker("docker", "/usr/bin/docker");
  auto command = docker.TaskCommand(GpuCube(), Invocation(), DryRun(""));
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(RunOptions(command->argv), (std::vector<std::string>{"--shm-size=512m", "-e", "A=1"}));
}

TEST(BuildContextPlacementTest, OutsideContextBecomesTheSyncedTreeOrNothing) {
  Cube cube;
  cube.root = "/state/cubes/o/med-1234";
  cube.docker.build_context = "/state/cubes/o/project";
  cube.docker.build_file = "Dockerfile";
  cube.singularity.build_context = "/state/cubes/o/project";
  cube.singularity.build_file = "docker://x/y:1";
  Cube synced = cube;
  ASSERT_TRUE(
      PlaceBuildContexts(cube.root, "/state/cubes/o/project_build-context-ab", &synced).ok());
  EXPECT_EQ(synced.docker.build_context, "/state/cubes/o/project_build-context-ab");
  EXPECT_EQ(synced.singularity.build_context, "/state/cubes/o/project_build-context-ab");
  Cube unsynced = cube;
  ASSERT_TRUE(PlaceBuildContexts(cube.root, "", &unsynced).ok());
  EXPECT_EQ(unsynced.docker.build_context,
            std::string("/state/cubes/o/med-1234/") + kUnsyncedBuildContext);
}

TEST(BuildContextPlacementTest, InsideContextStaysAndEscapingBuildFileIsRefused) {
  Cube cube;
  cube.root = "/state/cubes/o/c";
  cube.docker.build_context = "/state/cubes/o/c/build";
  cube.docker.build_file = "Dockerfile";
  ASSERT_TRUE(PlaceBuildContexts(cube.root, "/elsewhere", &cube).ok());
  EXPECT_EQ(cube.docker.build_context, "/state/cubes/o/c/build");
  cube.docker.build_file = "../../../../etc/passwd";
  absl::Status refused = PlaceBuildContexts(cube.root, "", &cube);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("docker.build_file"), std::string::npos) << refused;
}

TEST(BuildContextPlacementTest, ARecipeThatIsASymlinkOutOfItsSyncedContextIsRefused) {
  char tmpl[] = "/tmp/build-context-link-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  Cube cube = GpuCube();
  cube.docker.build_context = tmpl;
  cube.synced_build_context = tmpl;  // as PlaceBuildContexts leaves it
  cube.docker.build_file = "Dockerfile";
  cube.docker.build_strategy = BuildStrategy::kAuto;
  ASSERT_EQ(symlink("/etc/hostname", (cube.docker.build_context + "/Dockerfile").c_str()), 0);
  DockerRuntime docker("docker", "/usr/bin/docker");
  std::string notes;
  auto command = docker.ConfigureCommand(cube, DryRun(""), &notes);
  ASSERT_FALSE(command.ok());
  EXPECT_EQ(command.status().code(), absl::StatusCode::kInvalidArgument) << command.status();
  EXPECT_THAT(std::string(command.status().message()), ::testing::HasSubstr("docker.build_file"));
  (void)!system((std::string("rm -rf ") + tmpl).c_str());
}

TEST(BuildContextIgnoreTest, DockerignoreIsAnchoredAtTheContextRoot) {
  char tmpl[] = "/tmp/build-context-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  std::ofstream(root + "/.dockerignore") << "# comment\n/data\n*.log\n!keep.log\n./secrets\n";
  std::ofstream(root + "/.mlcubeignore") << "scratch/\n";
  auto rules = IgnoreRules::ForBuildContext(root);
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_TRUE(rules->IsIgnored("data", true));
  EXPECT_TRUE(rules->IsIgnored("run.log", false));
  EXPECT_FALSE(rules->IsIgnored("keep.log", false));
  EXPECT_FALSE(rules->IsIgnored("sub/run.log", false));  // Docker anchors patterns
  EXPECT_TRUE(rules->IsIgnored("secrets", false));
  EXPECT_TRUE(rules->IsIgnored("a/scratch", true));
  EXPECT_TRUE(rules->IsIgnored("image.sif", false));
  EXPECT_FALSE(rules->IsIgnored("Dockerfile", false));
  (void)!system(("rm -rf " + root).c_str());
}

// A shared agent's view of an identity other than its owner, no bind roots.
const HostPathAccess kSharedAgent(/*owner=*/false, {}, "/state");

TEST(TaskStepTest, UntypedParameterMissingAtSubmitIsDecidedWhenTheTaskStarts) {
  char tmpl[] = "/tmp/task-step-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  Cube cube;
  cube.root = tmpl;
  cube.workspace = cube.root + "/workspace";
  cube.docker.image = "x/y:1";
  Task task;
  task.name = "infer";
  Parameter predictions;
  predictions.name = "predictions";
  predictions.type = ParameterType::kUnknown;
  predictions.host_path = cube.workspace + "/predictions";
  task.inputs.push_back(predictions);
  cube.tasks["infer"] = task;
  // An earlier task of the same job may make it: submit accepts it there,
  // and refuses it as the job's first task, naming it.
  EXPECT_TRUE(CheckTaskAtSubmit(cube, "infer", /*after_other_tasks=*/true, kSharedAgent).ok());
  absl::Status first = CheckTaskAtSubmit(cube, "infer", /*after_other_tasks=*/false, kSharedAgent);
  EXPECT_NE(first.message().find("predictions"), std::string::npos) << first;
  DockerRuntime docker("docker", "/usr/bin/docker");
  StepContext context = DryRun("");
  auto missing = PrepareTaskStep(cube, "infer", docker, context);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("predictions"), std::string::npos) << missing.status();
  ASSERT_EQ(mkdir(cube.workspace.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(predictions.host_path.c_str(), 0755), 0);
  auto directory = PrepareTaskStep(cube, "infer", docker, context);
  ASSERT_TRUE(directory.ok()) << directory.status();
  const auto& argv = directory->command.argv;
  EXPECT_NE(std::find(argv.begin(), argv.end(), "--predictions=/mlcube_io0"), argv.end());
  (void)!system(("rm -rf " + cube.root).c_str());
}

}  // namespace
}  // namespace mlcube
