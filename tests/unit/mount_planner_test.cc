#include "common/mount_planner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace mlcube {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Parameter Param(const std::string& name, ParameterType type, const std::string& host_path,
                AccessMode access = AccessMode::kReadWrite) {
  Parameter p;
  p.name = name;
  p.type = type;
  p.default_value = host_path;
  p.host_path = host_path;
  p.access = access;
  return p;
}

constexpr ParameterType kFile = ParameterType::kFile;
constexpr ParameterType kDir = ParameterType::kDirectory;

TEST(MountPlannerTest, DirectoryAndFileParametersFollowMlcubeRules) {
  Task task;
  task.name = "train";
  task.inputs = {Param("data_dir", kDir, "/ws/data"),
                 Param("config", kFile, "/ws/params/train.yaml", AccessMode::kReadOnly)};
  task.outputs = {Param("model_dir", kDir, "/ws/model")};
  absl::StatusOr<TaskInvocation> plan = PlanTaskInvocation(task);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->args,
              ElementsAre("train", "--data_dir=/mlcube_io0", "--config=/mlcube_io1/train.yaml",
                          "--model_dir=/mlcube_io2"));
  ASSERT_EQ(plan->mounts.size(), 3u);
  EXPECT_EQ(plan->mounts[0].host_path, "/ws/data");
  EXPECT_FALSE(plan->mounts[0].read_only);
  EXPECT_EQ(plan->mounts[1].host_path, "/ws/params");  // a file mounts its parent
  EXPECT_EQ(plan->mounts[1].container_path, "/mlcube_io1");
  EXPECT_TRUE(plan->mounts[1].read_only);
  // As MLCube: every directory parameter, inputs too, and file parents.
  EXPECT_THAT(plan->directories_to_create, ElementsAre("/ws/data", "/ws/params", "/ws/model"));
}

TEST(MountPlannerTest, ParametersSharingADirectoryShareOneMount) {
  Task task;
  task.name = "t";
  task.inputs = {Param("a", kFile, "/ws/a.txt"), Param("b", kFile, "/ws/b.txt")};
  task.outputs = {Param("c", kFile, "/ws/out/c.txt"), Param("ws", kDir, "/ws")};
  absl::StatusOr<TaskInvocation> plan = PlanTaskInvocation(task);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->mounts.size(), 2u);
  EXPECT_THAT(plan->args, ElementsAre("t", "--a=/mlcube_io0/a.txt", "--b=/mlcube_io0/b.txt",
                                      "--c=/mlcube_io1/c.txt", "--ws=/mlcube_io0"));
  // Parents of files are created; /ws is created once.
  EXPECT_THAT(plan->directories_to_create, ElementsAre("/ws", "/ws/out"));
}

TEST(MountPlannerTest, UntypedParametersAreDecidedByTheHostPath) {
  Task task;
  task.name = "t";
  Parameter dir = Param("d", kDir, "/ws/d");
  dir.type = ParameterType::kUnknown;
  Parameter file = Param("f", kFile, "/ws/f.txt");
  file.type = ParameterType::kUnknown;
  task.inputs = {dir, file};
  MountPlanOptions options;
  options.probe = [](const std::string& path) {
    return path == "/ws/d" ? PathKind::kDirectory : PathKind::kFile;
  };
  absl::StatusOr<TaskInvocation> plan = PlanTaskInvocation(task, options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->args, ElementsAre("t", "--d=/mlcube_io0", "--f=/mlcube_io1/f.txt"));
  options.probe = [](const std::string&) { return PathKind::kMissing; };
  plan = PlanTaskInvocation(task, options);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()), ::testing::HasSubstr("parameter 'd'"));
}

// MLCube decides an untyped input by its path, but refuses an untyped
// output outright, even one that exists.
TEST(MountPlannerTest, AnUntypedOutputIsRefusedAsMlcubeRefusesIt) {
  Task task;
  task.name = "t";
  Parameter out = Param("model", kDir, "/ws/model");
  out.type = ParameterType::kUnknown;
  task.outputs = {out};
  MountPlanOptions options;
  options.probe = [](const std::string&) { return PathKind::kDirectory; };
  absl::StatusOr<TaskInvocation> plan = PlanTaskInvocation(task, options);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()),
              ::testing::HasSubstr("tasks.t.parameters.outputs.model: output parameter 'model' "
                                   "has no type; MLCube refuses the task"));
}

// Outside the workspace: an input written relative to it only in a tree
// synced with the cube; a host path (absolute, ~) only as the options
// allow; a relative output never.
TEST(MountPlannerTest, PathsOutsideTheWorkspace) {
  struct Case {
    const char* default_value;
    const char* host_path;
    bool output;
    bool allowed;
    const char* refused;
  };
  const Case cases[] = {
      {"../../configs/c.yaml", "/trees/configs/c.yaml", false, true, ""},
      {"../../other/c.yaml", "/state/other/c.yaml", false, true, "was not synced with the cube"},
      {"../results", "/trees/results", true, true, "outputs stay in the workspace"},
      {"~/.cache/hub", "/home/u/.cache/hub", true, true, ""},
      {"/data/x.csv", "/data/x.csv", false, false, "denied here"},
  };
  for (const Case& c : cases) {
    Task task;
    task.name = "t";
    Parameter p = Param("p", c.output ? kDir : kFile, c.host_path);
    p.default_value = c.default_value;
    (c.output ? task.outputs : task.inputs).push_back(p);
    MountPlanOptions options;
    options.confine_to = "/ws";
    options.also_within = {"/trees/configs"};
    options.allow_outside = [&c](const std::string&, bool) {
      return c.allowed ? absl::OkStatus() : absl::PermissionDeniedError("denied here");
    };
    absl::StatusOr<TaskInvocation> plan = PlanTaskInvocation(task, options);
    if (*c.refused == '\0') {
      EXPECT_TRUE(plan.ok()) << c.default_value << ": " << plan.status();
    } else {
      ASSERT_FALSE(plan.ok()) << c.default_value;
      EXPECT_THAT(std::string(plan.status().message()), ::testing::HasSubstr(c.refused));
    }
  }
}

TEST(MountPlannerTest, PathsWithSpacesStayOneArgument) {
  Task task;
  task.name = "t";
  task.inputs = {Param("in", kFile, "/my ws/input data/file name.csv")};
  absl::StatusOr<TaskInvocation> plan = PlanTaskInvocation(task);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->mounts[0].host_path, "/my ws/input data");
  EXPECT_THAT(plan->args, ElementsAre("t", "--in=/mlcube_io0/file name.csv"));
}

TEST(MountPlannerTest, EntrypointReplacesTaskNameArgument) {
  Task task;
  task.name = "t";
  task.entrypoint = "/bin/run.sh";
  task.outputs = {Param("o", kDir, "/ws/o")};
  absl::StatusOr<TaskInvocation> plan = PlanTaskInvocation(task);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->entrypoint, "/bin/run.sh");
  EXPECT_THAT(plan->args, ElementsAre("--o=/mlcube_io0"));
}

TEST(MountPlannerTest, NoParametersMeansNoMounts) {
  Task task;
  task.name = "hello";
  absl::StatusOr<TaskInvocation> plan = PlanTaskInvocation(task);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->mounts.empty());
  EXPECT_THAT(plan->args, ElementsAre("hello"));
}

TEST(MountPlannerTest, NormalisesHostPaths) {
  Task task;
  task.name = "t";
  task.inputs = {Param("a", kDir, "/ws/./data/"), Param("b", kDir, "/ws/x/../data")};
  absl::StatusOr<TaskInvocation> plan = PlanTaskInvocation(task);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->mounts.size(), 1u);
  EXPECT_EQ(plan->mounts[0].host_path, "/ws/data");
}

TEST(MountPlannerTest, ConflictingAccessModesAreAnError) {
  Task task;
  task.name = "t";
  task.inputs = {Param("cfg", kFile, "/ws/cfg.yaml", AccessMode::kReadOnly)};
  task.outputs = {Param("log", kFile, "/ws/log.txt")};
  absl::StatusOr<TaskInvocation> plan = PlanTaskInvocation(task);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()),
              HasSubstr("tasks.t.parameters.outputs.log: directory '/ws' is mounted read-only"));
}

TEST(MountPlannerTest, ConfinementRejectsEscapes) {
  Task task;
  task.name = "t";
  task.inputs = {Param("a", kDir, "/ws/../etc")};
  MountPlanOptions options;
  options.confine_to = "/ws";
  absl::StatusOr<TaskInvocation> plan = PlanTaskInvocation(task, options);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()),
              HasSubstr("tasks.t.parameters.inputs.a: path '/ws/../etc' is outside the workspace"));

  task.inputs = {Param("a", kFile, "/ws/file.txt")};  // parent is the workspace itself
  EXPECT_TRUE(PlanTaskInvocation(task, options).ok());
  task.inputs = {Param("a", kDir, "/wsx/data")};
  EXPECT_FALSE(PlanTaskInvocation(task, options).ok());
}

TEST(MountPlannerTest, RelativeHostPathIsAnError) {
  Task task;
  task.name = "t";
  task.inputs = {Param("a", kDir, "relative/dir")};
  auto plan = PlanTaskInvocation(task);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("relative/dir"));
  task.inputs = {Param("a", kDir, "/absolute/dir")};
  EXPECT_TRUE(PlanTaskInvocation(task).ok());  // the same task, absolute
}

}  // namespace
}  // namespace mlcube
