// Inputs outside the workspace and the cube but inside its repository
// (`../../configs/default_config.yaml`): which directories the controller
// syncs, which it refuses, and where the agent mounts them from.

#include "common/repository_inputs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "common/cube_loader.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::TempDir;
using ::testing::HasSubstr;

TEST(RepositoryInputsTest, RelativePaths) {
  EXPECT_EQ(RelativeTo("/r/configs", "/r/cube"), "../configs");
  EXPECT_EQ(RelativeTo("/r/a/b", "/r/cube/x"), "../../a/b");
  EXPECT_EQ(RelativeTo("/r/cube", "/r/cube"), "");
  EXPECT_EQ(RelativeTo("/r/cube/w", "/r/cube"), "w");
}

TEST(RepositoryInputsTest, DirectoriesToSyncAndWhatLeavesTheRepository) {
  struct Case {
    const char* name;
    bool git;            // repo/.git exists (else the repository is the cube's parent)
    const char* inputs;  // the task's inputs, as mlcube.yaml writes them
    std::map<std::string, std::string> dirs;  // relative -> below the temp dir
    const char* refused;
  };
  const Case cases[] = {
      {"a config file two levels up",
       true,
       "{cfg: {type: file, default: ../../configs/c.yaml}}",
       {{"../configs", "repo/configs"}},
       ""},
      {"a directory",
       true,
       "{data: {type: directory, default: ../../data/}}",
       {{"../data", "repo/data"}},
       ""},
      {"inside the cube: already synced with it",
       true,
       "{cfg: {type: file, default: ../params.yaml}}",
       {},
       ""},
      {"in the workspace or a host path: not the repository's",
       true,
       "{a: a.txt, b: {type: file, default: /etc/hosts}, c: {type: file, default: ~/x}}",
       {},
       ""},
      {"without git the repository is the cube's parent",
       false,
       "{cfg: {type: file, default: ../../configs/c.yaml}}",
       {{"../configs", "repo/configs"}},
       ""},
      {"leaving the repository",
       true,
       "{cfg: {type: file, default: ../../../x/c.yaml}}",
       {},
       "tasks.t.parameters.inputs.cfg: '../../../x/c.yaml' leaves the cube's repository"},
      {"leaving the parent without git",
       false,
       "{cfg: {type: file, default: ../../../x/c.yaml}}",
       {},
       "leaves the cube's repository"},
  };
  for (const Case& c : cases) {
    TempDir dir;
    if (c.git) dir.WriteFile("repo/.git/HEAD", "x\n");
    dir.WriteFile(
        "repo/cube/mlcube.yaml",
        std::string("name: c\ntasks:\n  t:\n    parameters:\n      inputs: ") + c.inputs + "\n");
    CubeLoadOptions options;
    options.path = dir / "repo/cube";
    absl::StatusOr<Cube> cube = LoadCube(options);
    ASSERT_TRUE(cube.ok()) << c.name << ": " << cube.status();
    auto dirs = RepositoryInputDirs(*cube, {"t"});
    if (*c.refused != '\0') {
      ASSERT_FALSE(dirs.ok()) << c.name;
      EXPECT_THAT(std::string(dirs.status().message()), HasSubstr(c.refused)) << c.name;
      continue;
    }
    ASSERT_TRUE(dirs.ok()) << c.name << ": " << dirs.status();
    std::map<std::string, std::string> expected;
    for (const auto& [rel, below] : c.dirs) expected[rel] = dir / below;
    EXPECT_EQ(*dirs, expected) << c.name;
  }
}

// On the agent the cube lives at STATE/cubes/OWNER/ID: `../../configs`
// would be another cube's tree there. It becomes the synced copy.
TEST(RepositoryInputsTest, TheAgentMountsTheSyncedCopy) {
  Cube cube;
  cube.root = "/state/cubes/uid-1/cube-1234";
  cube.workspace = cube.root + "/workspace";
  Task task;
  Parameter cfg;
  cfg.name = "cfg";
  cfg.default_value = "../../configs/sub/c.yaml";
  cfg.host_path = "/state/cubes/uid-1/configs/sub/c.yaml";
  Parameter local;
  local.name = "local";
  local.default_value = "../params.yaml";
  local.host_path = cube.root + "/params.yaml";
  Parameter unsynced;
  unsynced.name = "unsynced";
  unsynced.default_value = "../../other/x";
  unsynced.host_path = "/state/cubes/uid-1/other/x";
  task.inputs = {cfg, local, unsynced};
  cube.tasks["t"] = task;
  PlaceRepositoryInputs({{"../configs", "/state/cubes/uid-1/configs-abcd"}}, &cube);
  const std::vector<Parameter>& inputs = cube.tasks["t"].inputs;
  EXPECT_EQ(inputs[0].host_path, "/state/cubes/uid-1/configs-abcd/sub/c.yaml");
  EXPECT_EQ(inputs[1].host_path, cube.root + "/params.yaml");
  EXPECT_EQ(inputs[2].host_path, "/state/cubes/uid-1/other/x");  // the planner refuses it
  EXPECT_THAT(cube.input_trees,
              ::testing::ElementsAre(cube.root, "/state/cubes/uid-1/configs-abcd"));
}

}  // namespace
}  // namespace mlcube
