#include "common/cube_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <chrono>
#include <string>

#include "common/config_tree.h"
#include "common/mount_planner.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::TempDir;
using ::testing::HasSubstr;

const std::string kDataDir = MLCUBE_TEST_DATA_DIR;

absl::StatusOr<Cube> LoadText(const std::string& yaml, CubeLoadOptions options = {}) {
  return LoadCubeFromString(yaml, "/cubes/demo", options);
}

std::string ErrorOf(const std::string& yaml, CubeLoadOptions options = {}) {
  absl::StatusOr<Cube> cube = LoadText(yaml, options);
  EXPECT_FALSE(cube.ok()) << "expected an error for:\n" << yaml;
  return cube.ok() ? "" : std::string(cube.status().message());
}

const char kMinimal[] = R"(
name: demo
tasks:
  t:
    parameters:
      inputs: {data: {type: directory, default: data}}
)";

TEST(CubeLoaderTest, LoadsSingleFileMnistFixture) {
  CubeLoadOptions options;
  options.path = kDataDir + "/single_file/mnist";
  absl::StatusOr<Cube> cube = LoadCube(options);
  ASSERT_TRUE(cube.ok()) << cube.status();
  EXPECT_EQ(cube->layout, CubeLayout::kSingleFile);
  EXPECT_EQ(cube->name, "mnist");
  EXPECT_EQ(cube->accelerator_count, 1);
  EXPECT_THAT(cube->authors, ::testing::ElementsAre("First Second"));
  EXPECT_EQ(cube->docker.image, "mlcommons/mnist:0.0.1");
  EXPECT_EQ(cube->docker.build_strategy, BuildStrategy::kAuto);
  EXPECT_EQ(cube->docker.build_context, cube->root + "/build");
  EXPECT_EQ(cube->docker.build_args.at("PYTHON_VERSION"), "3.11");
  EXPECT_EQ(cube->singularity.image_dir, cube->workspace + "/.image");
  ASSERT_EQ(cube->tasks.size(), 2u);
  const Task& train = cube->tasks.at("train");
  ASSERT_EQ(train.inputs.size(), 2u);
  EXPECT_EQ(train.inputs[0].name, "data_dir");
  EXPECT_EQ(train.inputs[0].type, ParameterType::kDirectory);  // shorthand with trailing '/'
  EXPECT_EQ(train.inputs[0].host_path, cube->workspace + "/data");
  EXPECT_EQ(train.inputs[1].default_value, "mnist_train.yaml");  // ${name} interpolated
  EXPECT_EQ(train.inputs[1].access, AccessMode::kReadOnly);
  EXPECT_EQ(train.outputs[1].host_path, cube->workspace + "/model");
}

TEST(CubeLoaderTest, LoadsLegacyMnistFixture) {
  CubeLoadOptions options;
  options.path = kDataDir + "/legacy/mnist/mlcube.yaml";
  absl::StatusOr<Cube> cube = LoadCube(options);
  ASSERT_TRUE(cube.ok()) << cube.status();
  EXPECT_EQ(cube->layout, CubeLayout::kLegacy);
  EXPECT_EQ(cube->name, "mnist");
  EXPECT_EQ(cube->docker.image, "mlperf/mlcube:mnist");
  EXPECT_EQ(cube->docker.build_context, cube->root + "/build");
  EXPECT_EQ(cube->docker.build_strategy, BuildStrategy::kAuto);  // build/Dockerfile exists
  // Absolute Singularity image paths are kept as they are.
  EXPECT_EQ(cube->singularity.image_dir, "/opt/singularity");
  EXPECT_EQ(cube->singularity.image, "mlperf_mlcube_mnist-0.01.simg");
  const Task& train = cube->tasks.at("train");
  ASSERT_EQ(train.inputs.size(), 2u);
  EXPECT_EQ(train.inputs[1].name, "parameters_file");
  EXPECT_EQ(train.inputs[1].type, ParameterType::kFile);
  EXPECT_EQ(train.inputs[1].host_path, cube->workspace + "/parameters/default.parameters.yaml");
  const Task& download = cube->tasks.at("download");
  EXPECT_EQ(download.outputs[1].host_path, cube->workspace + "/download_logs");
}

TEST(CubeLoaderTest, LegacyRelativeSingularityImageLivesInWorkspace) {
  TempDir dir;
  dir.WriteFile("mlcube.yaml", "name: c\ntasks: [tasks/t.yaml]\n");
  dir.WriteFile("tasks/t.yaml", "inputs: [{name: a, type: file}]\n");
  dir.WriteFile("platform/singularity.yaml", "image: images/c.simg\n");
  CubeLoadOptions options;
  options.path = dir.path();
  absl::StatusOr<Cube> cube = LoadCube(options);
  ASSERT_TRUE(cube.ok()) << cube.status();
  EXPECT_EQ(cube->singularity.image_dir, cube->workspace);
  EXPECT_EQ(cube->singularity.image, "images/c.simg");
  // No run file: the parameter defaults to its name in the workspace.
  EXPECT_EQ(cube->tasks.at("t").inputs[0].host_path, cube->workspace + "/a");
}

TEST(CubeLoaderTest, ShorthandParametersAndDefaults) {
  absl::StatusOr<Cube> cube = LoadText(R"(
name: demo
tasks:
  t:
    parameters:
      inputs:
        plain: input.csv
        folder: input_dir/
        bare:
      outputs:
        out: {type: directory}
)");
  ASSERT_TRUE(cube.ok()) << cube.status();
  const Task& t = cube->tasks.at("t");
  // No type and no trailing '/': decided at plan time from the host path.
  EXPECT_EQ(t.inputs[0].type, ParameterType::kUnknown);
  EXPECT_EQ(t.inputs[1].type, ParameterType::kDirectory);
  EXPECT_EQ(t.inputs[1].host_path, "/cubes/demo/workspace/input_dir");
  EXPECT_EQ(t.inputs[2].default_value, "bare");
  EXPECT_EQ(t.outputs[0].default_value, "out");
  EXPECT_EQ(t.outputs[0].host_path, "/cubes/demo/workspace/out");
}

TEST(CubeLoaderTest, InterpolatesKeyPathsWorkspaceAndEnvironment) {
  ::setenv("MLCUBE_TEST_DATA_ROOT", "/datasets", 1);
  ::unsetenv("MLCUBE_TEST_UNSET");
  absl::StatusOr<Cube> cube = LoadText(R"(
name: demo
docker: {image: "org/${name}:${version}"}
version: "1.2"
paths: {base: "${oc.env:MLCUBE_TEST_DATA_ROOT}/mnist"}
tasks:
  t:
    parameters:
      inputs:
        a: {type: directory, default: "${paths.base}"}
        b: {type: file, default: "${workspace}/b.txt"}
        c: {type: file, default: "${oc.env:MLCUBE_TEST_UNSET, fallback.txt}"}
        d: {type: file, default: "\\${literal}"}
)");
  ASSERT_TRUE(cube.ok()) << cube.status();
  EXPECT_EQ(cube->docker.image, "org/demo:1.2");
  const Task& t = cube->tasks.at("t");
  EXPECT_EQ(t.inputs[0].host_path, "/datasets/mnist");
  EXPECT_EQ(t.inputs[1].host_path, "/cubes/demo/workspace/b.txt");
  EXPECT_EQ(t.inputs[2].default_value, "fallback.txt");
  EXPECT_EQ(t.inputs[3].default_value, "${literal}");
}

// On the agent, ${oc.env:...} reads only the variables the request carried:
// a cube cannot read the agent's own environment.
TEST(CubeLoaderTest, GivenEnvironmentReplacesTheProcessEnvironment) {
  ::setenv("MLCUBE_TEST_AGENT_SECRET", "s3cret", 1);
  CubeLoadOptions options;
  options.environment = std::map<std::string, std::string>{{"LAPTOP_VAR", "/data"}};
  absl::StatusOr<Cube> cube =
      LoadText(std::string(kMinimal) + "docker: {image: \"x:${oc.env:LAPTOP_VAR}\"}\n", options);
  ASSERT_TRUE(cube.ok()) << cube.status();
  EXPECT_EQ(cube->docker.image, "x:/data");
  const std::string error =
      ErrorOf(std::string(kMinimal) + "docker: {image: \"x:${oc.env:MLCUBE_TEST_AGENT_SECRET}\"}\n",
              options);
  EXPECT_THAT(error, HasSubstr("environment variable 'MLCUBE_TEST_AGENT_SECRET' is not set"));
  EXPECT_THAT(error, ::testing::Not(HasSubstr("s3cret")));
  // Without a given environment (the controller): the process's.
  cube = LoadText(std::string(kMinimal) +
                  "docker: {image: \"x:${oc.env:MLCUBE_TEST_AGENT_SECRET}\"}\n");
  ASSERT_TRUE(cube.ok()) << cube.status();
  EXPECT_EQ(cube->docker.image, "x:s3cret");
  ::unsetenv("MLCUBE_TEST_AGENT_SECRET");
}

TEST(CubeLoaderTest, OverridesApplyBeforeInterpolation) {
  CubeLoadOptions options;
  options.overrides = {"docker.image=custom:2", "tasks.t.parameters.inputs.data.default=/abs/d",
                       "extra.key=${name}-x"};
  absl::StatusOr<Cube> cube = LoadText(std::string(kMinimal) + "docker: {image: x}\n", options);
  ASSERT_TRUE(cube.ok()) << cube.status();
  EXPECT_EQ(cube->docker.image, "custom:2");
  EXPECT_EQ(cube->tasks.at("t").inputs[0].host_path, "/abs/d");
  EXPECT_EQ(cube->effective_config["extra"]["key"].Scalar(), "demo-x");
}

TEST(CubeLoaderTest, WorkspaceOptionMovesRelativeParameters) {
  CubeLoadOptions options;
  options.workspace = "/scratch/ws";
  absl::StatusOr<Cube> cube = LoadText(kMinimal, options);
  ASSERT_TRUE(cube.ok()) << cube.status();
  EXPECT_EQ(cube->workspace, "/scratch/ws");
  EXPECT_EQ(cube->tasks.at("t").inputs[0].host_path, "/scratch/ws/data");
}

TEST(CubeLoaderTest, HostDefaultsSitUnderTheCube) {
  CubeLoadOptions options;
  options.host_defaults = YAML::Load(
      "singularity: {image_dir: /scratch/sif, run_args: --nv}\n"
      "docker: {image: host-default}");
  absl::StatusOr<Cube> cube = LoadText(
      std::string(kMinimal) + "singularity: {image: a.sif}\ndocker: {image: cube}\n", options);
  ASSERT_TRUE(cube.ok()) << cube.status();
  EXPECT_EQ(cube->singularity.image_dir, "/scratch/sif");
  EXPECT_EQ(cube->singularity.run_args, "--nv");
  EXPECT_EQ(cube->docker.image, "cube");
}

TEST(CubeLoaderTest, PlatformFileOverridesCube) {
  TempDir dir;
  dir.WriteFile("mlcube.yaml", std::string(kMinimal) + "docker: {image: from-cube}\n");
  dir.WriteFile("platform/docker.yaml", "schema_type: mlcube_docker\nimage: from-platform\n");
  CubeLoadOptions options;
  options.path = dir.path();
  options.platform_file = dir.path() + "/platform/docker.yaml";
  absl::StatusOr<Cube> cube = LoadCube(options);
  ASSERT_TRUE(cube.ok()) << cube.status();
  EXPECT_EQ(cube->docker.image, "from-platform");
}

TEST(CubeLoaderErrorsTest, WrongParameterTypeNamesFileAndKeyPath) {
  EXPECT_EQ(ErrorOf("name: d\ntasks:\n  train:\n    parameters:\n      inputs:\n"
                    "        data_dir: {type: dir}\n"),
            "mlcube.yaml: tasks.train.parameters.inputs.data_dir.type: expected 'file' or "
            "'directory', got 'dir'");
}

TEST(CubeLoaderErrorsTest, MalformedYamlNamesLine) {
  EXPECT_THAT(ErrorOf("name: d\ntasks: [unclosed\n"), HasSubstr("mlcube.yaml:"));
  EXPECT_THAT(ErrorOf("name: d\ntasks: [unclosed\n"), HasSubstr("invalid YAML"));
}

TEST(CubeLoaderErrorsTest, ReportsBadShapes) {
  EXPECT_THAT(ErrorOf("- a\n- b\n"), HasSubstr("expected a mapping at the top level"));
  EXPECT_THAT(ErrorOf("tasks: {}\n"), HasSubstr("mlcube.yaml: name: required key is missing"));
  EXPECT_THAT(ErrorOf("name: d\n"), HasSubstr("mlcube.yaml: tasks: required key is missing"));
  EXPECT_THAT(ErrorOf("name: d\ntasks: 3\n"),
              HasSubstr("tasks: expected a mapping of task names to tasks, got '3'"));
  EXPECT_THAT(ErrorOf("name: d\ntasks: {t: {parameters: {inputs: {a: {type: file, opts: rx}}}}}\n"),
              HasSubstr("tasks.t.parameters.inputs.a.opts: expected 'ro' or 'rw', got 'rx'"));
  EXPECT_THAT(ErrorOf("name: d\ntasks: {t: {parameters: {inputs: {a: [1]}}}}\n"),
              HasSubstr("tasks.t.parameters.inputs.a: expected a path or a mapping"));
  EXPECT_THAT(ErrorOf("name: d\ndocker: {image: x, build_strategy: sometimes}\ntasks: {t: }\n"),
              HasSubstr("docker.build_strategy: expected 'pull', 'auto' or 'always', got "
                        "'sometimes'"));
  EXPECT_THAT(ErrorOf("name: d\nplatform: {accelerator_count: many}\ntasks: {t: }\n"),
              HasSubstr("platform.accelerator_count: expected a whole number"));
}

TEST(CubeLoaderTest, UnknownKeysAreWarningsNamingFileAndKey) {
  absl::StatusOr<Cube> cube =
      LoadCubeFromString("name: d\ntasks: {t: {parameters: {outpus: {}}}}\n", "/cubes/d", {});
  ASSERT_TRUE(cube.ok()) << cube.status();
  ASSERT_EQ(cube->warnings.size(), 1u);
  EXPECT_THAT(cube->warnings[0], HasSubstr("mlcube.yaml: tasks.t.parameters.outpus: unknown key"));
}

TEST(CubeLoaderTest, ParameterInBothInputsAndOutputsIsPassedTwice) {
  absl::StatusOr<Cube> cube = LoadCubeFromString(
      "name: d\ntasks: {t: {parameters: {inputs: {a: x/}, outputs: {a: x/}}}}\n", "/cubes/d", {});
  ASSERT_TRUE(cube.ok()) << cube.status();
  auto plan = PlanTaskInvocation(cube->tasks.at("t"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->args, ::testing::ElementsAre("t", "--a=/mlcube_io0", "--a=/mlcube_io0"));
}

TEST(CubeLoaderErrorsTest, UnknownInterpolationKey) {
  EXPECT_EQ(ErrorOf("name: d\ntasks: {t: {parameters: {inputs: {a: \"${nope.key}\"}}}}\n"),
            "mlcube.yaml: tasks.t.parameters.inputs.a: unknown interpolation key 'nope.key'");
  EXPECT_THAT(ErrorOf("name: d\nx: \"${tasks}\"\ntasks: {t: }\n"),
              HasSubstr("x: interpolation key 'tasks' is a mapping, not a value"));
  EXPECT_THAT(ErrorOf("name: d\nx: \"${name\"\ntasks: {t: }\n"),
              HasSubstr("unterminated interpolation"));
  EXPECT_THAT(ErrorOf("name: d\nx: \"${oc.env:MLCUBE_SURELY_UNSET_VAR}\"\ntasks: {t: }\n"),
              HasSubstr("environment variable 'MLCUBE_SURELY_UNSET_VAR' is not set"));
}

// Each key doubles the one before: 40 levels would be 2^40 bytes. It fails
// at the value limit, naming the key, fast and in little memory.
TEST(CubeLoaderErrorsTest, ExponentialInterpolationFailsFastNamingTheKey) {
  std::string yaml = "name: d\ntasks: {t: }\nk0: \"xxxxxxxxxxxxxxxx\"\n";
  for (int i = 1; i <= 40; ++i) {
    yaml += "k" + std::to_string(i) + ": \"${k" + std::to_string(i - 1) + "}${k" +
            std::to_string(i - 1) + "}\"\n";
  }
  ASSERT_LT(yaml.size(), 1600u);
  struct rusage before, after;
  getrusage(RUSAGE_SELF, &before);
  const auto start = std::chrono::steady_clock::now();
  const std::string error = ErrorOf(yaml);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  getrusage(RUSAGE_SELF, &after);
  EXPECT_THAT(error, HasSubstr("interpolated value is longer than 1048576 bytes"));
  EXPECT_THAT(error, ::testing::MatchesRegex("mlcube.yaml: k[0-9]+: .*"));
  EXPECT_LT(seconds, 2.0);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 64 * 1024) << "KiB of peak memory grown";
}

TEST(CubeLoaderErrorsTest, InterpolationCycleShowsChain) {
  EXPECT_THAT(ErrorOf("name: d\na: \"${b}\"\nb: \"${c}\"\nc: \"${a}\"\ntasks: {t: }\n"),
              HasSubstr("interpolation cycle: a -> b -> c -> a"));
  EXPECT_THAT(ErrorOf("name: \"${name}\"\ntasks: {t: }\n"),
              HasSubstr("interpolation cycle: name -> name"));
}

TEST(CubeLoaderErrorsTest, BadOverrides) {
  CubeLoadOptions options;
  options.overrides = {"novalue"};
  EXPECT_THAT(ErrorOf(kMinimal, options), HasSubstr("-P novalue: expected key.path=value"));
  options.overrides = {"name.sub=1"};
  EXPECT_THAT(ErrorOf(kMinimal, options), HasSubstr("-P name.sub=1: 'name.sub' is inside"));
  options.overrides = {"tasks=1"};
  EXPECT_THAT(ErrorOf(kMinimal, options), HasSubstr("'tasks' is a mapping, not a value"));
  options.overrides = {"a..b=1"};
  EXPECT_THAT(ErrorOf(kMinimal, options), HasSubstr("empty component"));
}

TEST(CubeLoaderErrorsTest, MissingFiles) {
  CubeLoadOptions options;
  options.path = "/nonexistent/cube";
  absl::StatusOr<Cube> cube = LoadCube(options);
  ASSERT_FALSE(cube.ok());
  EXPECT_EQ(cube.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(cube.status().message()), HasSubstr("/nonexistent/cube"));

  TempDir dir;
  dir.WriteFile("mlcube.yaml", "name: c\ntasks: [tasks/missing.yaml]\n");
  options.path = dir.path();
  cube = LoadCube(options);
  ASSERT_FALSE(cube.ok());
  EXPECT_THAT(std::string(cube.status().message()), HasSubstr("tasks/missing.yaml: cannot open"));
}

TEST(CubeLoaderErrorsTest, LegacyErrorsNameTheirFile) {
  TempDir dir;
  dir.WriteFile("mlcube.yaml", "name: c\ntasks: [tasks/t.yaml, ../../etc/passwd]\n");
  dir.WriteFile("tasks/t.yaml", "inputs: [{name: a, type: file}]\n");
  CubeLoadOptions options;
  options.path = dir.path();
  absl::StatusOr<Cube> cube = LoadCube(options);
  ASSERT_FALSE(cube.ok());
  EXPECT_THAT(std::string(cube.status().message()), HasSubstr("'..' component"));

  dir.WriteFile("mlcube.yaml", "name: c\ntasks: [tasks/t.yaml]\n");
  dir.WriteFile("tasks/t.yaml", "inputs: [{type: file}]\n");
  cube = LoadCube(options);
  ASSERT_FALSE(cube.ok());
  EXPECT_THAT(std::string(cube.status().message()),
              HasSubstr("tasks/t.yaml: inputs.0.name: required key is missing"));

  dir.WriteFile("tasks/t.yaml", "inputs: [{name: a, type: folder}]\n");
  cube = LoadCube(options);
  ASSERT_FALSE(cube.ok());
  EXPECT_THAT(std::string(cube.status().message()),
              HasSubstr("tasks/t.yaml: inputs.0.type: expected 'file' or 'directory', got "
                        "'folder'"));

  dir.WriteFile("tasks/t.yaml", "inputs: [{name: a, type: file}]\n");
  dir.WriteFile("run/other.yaml", "task_name: nothere\n");
  cube = LoadCube(options);
  ASSERT_FALSE(cube.ok());
  EXPECT_THAT(std::string(cube.status().message()),
              HasSubstr("run/other.yaml: task_name: task 'nothere' is not listed"));
}

}  // namespace
}  // namespace mlcube

namespace mlcube {
namespace {

TEST(ConfigTreeTest, FlattenAndRebuildRoundTrip) {
  YAML::Node tree = YAML::Load(
      "singularity: {image_dir: /scratch/sif, build_args: --fakeroot}\n"
      "docker: {build_args: {A: '1'}}\nlist: [1, 2]\n");
  std::map<std::string, std::string> flat = FlattenScalars(tree);
  EXPECT_EQ(flat.at("singularity.image_dir"), "/scratch/sif");
  EXPECT_EQ(flat.at("docker.build_args.A"), "1");
  EXPECT_EQ(flat.count("list"), 0u);
  absl::StatusOr<YAML::Node> rebuilt = TreeFromKeyPaths(flat);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ((*rebuilt)["singularity"]["build_args"].Scalar(), "--fakeroot");
  EXPECT_FALSE(TreeFromKeyPaths({{"a", "1"}, {"a.b", "2"}}).ok());
}

}  // namespace
}  // namespace mlcube
