// Tasks MLCube's own runners refuse are refused here too, with MLCube's
// reason and the file or key named: small cubes in both layouts, written
// here, one pattern per row.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "agent/jobs/task_step.h"
#include "agent/runtimes/apptainer_runtime.h"
#include "agent/runtimes/docker_runtime.h"
#include "common/cube_loader.h"
#include "common/legacy_cube_converter.h"
#include "common/yaml_reader.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::TempDir;
using ::testing::HasSubstr;

constexpr char kRoot[] =
    "schema_version: 1.0.0\nschema_type: mlcube_root\nname: old\nauthor: a\n"
    "tasks:\n  - tasks/train.yaml\n";
constexpr char kTask[] =
    "schema_version: 1.0.0\nschema_type: mlcube_task\n"
    "inputs:\n  - {name: data, type: directory}\noutputs:\n  - {name: model, type: directory}\n";
constexpr char kDocker[] =
    "schema_type: mlcube_platform\nschema_version: 0.1.0\nplatform: {name: docker, version: "
    "'>=18'}\ncontainer: {image: org/old:1}\n";

// An older-layout cube: `run` is run/train.yaml, `platform` the docker
// platform file. Loads it as `run --platform=... --task=run/train.yaml`.
absl::StatusOr<Cube> LoadOlder(const TempDir& dir, const std::string& run,
                               const std::string& platform) {
  dir.WriteFile("mlcube.yaml", kRoot);
  dir.WriteFile("tasks/train.yaml", kTask);
  dir.WriteFile("run/train.yaml", run);
  dir.WriteFile("platforms/docker.yaml", platform);
  dir.WriteFile("workspace/data/x", "1");
  absl::StatusOr<YAML::Node> content = ReadYamlFile(dir / "run/train.yaml", "run/train.yaml");
  if (!content.ok()) return content.status();
  auto bound = RunFileAsOverrides({"run/train.yaml", *content});
  if (!bound.ok()) return bound.status();
  CubeLoadOptions options;
  options.path = dir.path();
  options.platform_file = dir / "platforms/docker.yaml";
  options.overrides = bound->second;
  return LoadCube(options);
}

TEST(MlcubeRefusalsTest, OlderLayoutRunFilesMlcubeRejects) {
  const std::string good_bindings =
      "input_binding: {data: $WORKSPACE/data}\noutput_binding: {model: $WORKSPACE/model}\n";
  struct Case {
    const char* name;
    std::string run;
    std::string platform;
    const char* refused;  // "" when MLCube runs it
  };
  const std::string head = "schema_version: 1.0.0\nschema_type: mlcube_invoke\ntask_name: train\n";
  const Case cases[] = {
      {"a run file MLCube runs", head + good_bindings, kDocker, ""},
      {"no bindings at all is a mapping of none", head + "input_binding: {}\noutput_binding: {}\n",
       kDocker, ""},
      {"output_binding missing", head + "input_binding: {data: $WORKSPACE/data}\n", kDocker,
       "run/train.yaml: output_binding: required key is missing; MLCube refuses"},
      {"input_binding empty", head + "input_binding:\noutput_binding: {}\n", kDocker,
       "run/train.yaml: input_binding: is empty; MLCube refuses"},
      {"a binding the task file does not declare",
       head + "input_binding: {dta: $WORKSPACE/data}\noutput_binding: {}\n", kDocker,
       "tasks.train.parameters.inputs.dta: tasks/train.yaml declares no input 'dta'"},
      {"an input bound as an output",
       head + "input_binding: {}\noutput_binding: {data: $WORKSPACE/data}\n", kDocker,
       "declares no output 'data'"},
      {"the docker platform's deprecated runtime", head + good_bindings,
       "schema_type: mlcube_platform\nschema_version: 0.1.0\nplatform: {name: docker, version: "
       "'>=18'}\ncontainer: {image: org/old:1, runtime: nvidia}\n",
       "container.runtime: MLCube refuses to run tasks with it (\"The 'runtime' parameter is "
       "deprecated. Please, use: 'run_args: --runtime=nvidia'\")"},
  };
  for (const Case& c : cases) {
    TempDir dir;
    absl::StatusOr<Cube> cube = LoadOlder(dir, c.run, c.platform);
    if (*c.refused == '\0') {
      EXPECT_TRUE(cube.ok()) << c.name << ": " << cube.status();
      continue;
    }
    ASSERT_FALSE(cube.ok()) << c.name;
    EXPECT_THAT(std::string(cube.status().message()), HasSubstr(c.refused)) << c.name;
  }
}

// MLCube's singularity runner of the older layout builds only from
// build/Singularity.recipe ("Singularity recipe not found"), where a cube
// of the single-file layout is converted from its docker image.
TEST(MlcubeRefusalsTest, OlderLayoutSingularityNeedsItsRecipe) {
  TempDir dir;
  dir.WriteFile("platforms/singularity.yaml",
                "schema_type: mlcube_platform\nschema_version: 0.1.0\nplatform: {name: "
                "singularity, version: '>=3.5'}\ncontainer: {image: old-0.1.simg}\n");
  absl::StatusOr<Cube> cube =
      LoadOlder(dir,
                "schema_version: 1.0.0\nschema_type: mlcube_invoke\ntask_name: train\n"
                "input_binding: {}\noutput_binding: {}\n",
                kDocker);
  ASSERT_TRUE(cube.ok()) << cube.status();
  CubeLoadOptions options;
  options.path = dir.path();
  options.platform_file = dir / "platforms/singularity.yaml";
  cube = LoadCube(options);
  ASSERT_TRUE(cube.ok()) << cube.status();
  ApptainerRuntime apptainer("singularity", "/usr/bin/singularity", "");
  StepContext context;
  context.dry_run = true;
  context.image_dir = dir / "images";
  context.step_prefix = dir / "step-0";
  std::string notes;
  auto command = apptainer.ConfigureCommand(*cube, context, &notes);
  ASSERT_FALSE(command.ok());
  EXPECT_THAT(
      std::string(command.status().message()),
      HasSubstr("Singularity recipe not found: " + dir.path() + "/build/Singularity.recipe"));
  // With the recipe, it builds.
  dir.WriteFile("build/Singularity.recipe", "Bootstrap: docker\nFrom: busybox:1.36\n");
  EXPECT_TRUE(apptainer.ConfigureCommand(*cube, context, &notes).ok());
}

// Single-file cubes: an output without a type stops MLCube's task even when
// its path exists.
TEST(MlcubeRefusalsTest, UntypedOutputs) {
  TempDir dir;
  dir.WriteFile("mlcube.yaml",
                "name: c\ndocker: {image: org/c:1}\ntasks:\n  train:\n    parameters:\n"
                "      inputs: {data: data}\n      outputs: {model: model}\n");
  dir.WriteFile("workspace/data/x", "1");
  dir.WriteFile("workspace/model/y", "1");
  CubeLoadOptions options;
  options.path = dir.path();
  absl::StatusOr<Cube> cube = LoadCube(options);
  ASSERT_TRUE(cube.ok()) << cube.status();
  DockerRuntime docker("docker", "/usr/bin/docker");
  StepContext context;
  context.dry_run = true;
  context.step_prefix = dir / "step-0";
  auto step = PrepareTaskStep(*cube, "train", docker, context);
  ASSERT_FALSE(step.ok());
  EXPECT_THAT(std::string(step.status().message()),
              HasSubstr("tasks.train.parameters.outputs.model: output parameter 'model' has no "
                        "type; MLCube refuses the task"));
}

}  // namespace
}  // namespace mlcube
