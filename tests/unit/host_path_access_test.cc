// Host paths outside the workspace in a cube's parameters (a Hugging Face
// cache at ~/.cache/huggingface/hub, a dataset at /data): who may mount
// them, from the planning of a small cube's task through to its command.

#include "agent/jobs/host_path_access.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "agent/jobs/task_step.h"
#include "agent/runtimes/docker_runtime.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::TempDir;
using ::testing::HasSubstr;

TEST(HostPathAccessTest, OwnerMountsAnyPathOthersOnlyBelowBindRoots) {
  struct Case {
    bool owner;
    const char* dir;
    bool read_only;
    const char* refused;  // "" allowed
  };
  const std::vector<HostBindRoot> roots = {{"/datasets", false}, {"/scratch", true}};
  const Case cases[] = {
      {true, "/home/alice/.cache/huggingface/hub", false, ""},
      {true, "/etc", true, ""},
      {false, "/datasets/imagenet", true, ""},
      {false, "/scratch/alice/hub", false, ""},
      {false, "/datasets/imagenet", false, "that is writable"},
      {false, "/home/alice/.cache/huggingface/hub", false, "not below one of"},
      {false, "/datasets/../etc", true, "not below one of"},
      {false, "/datasetsX", true, "not below one of"},
      {true, "/var/lib/mlcube-agent/cubes/cn-bob/x", true, "the agent's state directory"},
  };
  for (const Case& c : cases) {
    absl::Status s =
        HostPathAccess(c.owner, roots, "/var/lib/mlcube-agent").Check(c.dir, c.read_only);
    if (*c.refused == '\0') {
      EXPECT_TRUE(s.ok()) << c.dir << ": " << s;
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << c.dir;
      EXPECT_THAT(std::string(s.message()), HasSubstr(c.refused)) << c.dir;
    }
  }
  EXPECT_THAT(std::string(HostPathAccess(false, {}, "").Check("/x", true).message()),
              HasSubstr("only its owner's tasks mount host paths (MLCube mounts it as written); "
                        "the agent's admin may allow paths below a directory with "
                        "`allow.bind_roots`"));
}

// A cube whose output is a cache outside the workspace: planned for the
// agent's owner with the host path mounted and created; refused for a
// task uid of another identity, naming the parameter.
TEST(HostPathAccessTest, ATaskStepMountsTheHostPathOnlyForTheOwner) {
  TempDir dir;
  Cube cube;
  cube.root = dir.path();
  cube.workspace = dir / "workspace";
  cube.docker.image = "org/hf:1";
  Task task;
  task.name = "download";
  Parameter hub;
  hub.name = "hf_cache";
  hub.type = ParameterType::kDirectory;
  hub.default_value = "~/.cache/huggingface/hub";
  hub.host_path = dir / "home/.cache/huggingface/hub";
  task.outputs.push_back(hub);
  cube.tasks["download"] = task;
  DockerRuntime docker("docker", "/usr/bin/docker");
  StepContext context;
  context.dry_run = true;
  context.step_prefix = dir / "step-0";
  context.uid = context.agent_uid = geteuid();
  auto owner = PrepareTaskStep(cube, "download", docker, context);
  ASSERT_TRUE(owner.ok()) << owner.status();
  EXPECT_THAT(owner->command.argv, ::testing::Contains(hub.host_path + ":/mlcube_io0"));
  EXPECT_THAT(owner->creates, ::testing::Contains(hub.host_path));
  context.uid = context.agent_uid + 100000;
  auto other = PrepareTaskStep(cube, "download", docker, context);
  ASSERT_FALSE(other.ok());
  EXPECT_THAT(std::string(other.status().message()),
              HasSubstr("tasks.download.parameters.outputs.hf_cache: host path '" + hub.host_path +
                        "' is outside the workspace"));
}

}  // namespace
}  // namespace mlcube
