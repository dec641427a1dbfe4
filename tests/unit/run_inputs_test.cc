#include "controller/sweeps/run_inputs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/cube_loader.h"
#include "common/yaml_reader.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::ReadFileContent;
using ::mlcube::testing::TempDir;
using ::testing::Contains;
using ::testing::ElementsAre;

class RunInputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.WriteFile("cube/mlcube.yaml",
                   "name: c\ndocker: {image: x}\ntasks:\n  train:\n    parameters:\n"
                   "      inputs:\n        parameters_file: {type: file, default: params.yaml}\n"
                   "        settings: settings.json\n"
                   "      outputs:\n        model: {type: directory, default: model/}\n"
                   "        log: {type: file, default: logs/train.log}\n"
                   "        elsewhere: {type: directory, default: /tmp/shared/}\n");
    dir_.WriteFile("cube/workspace/params.yaml",
                   "lr: 0.1\noptimizer:\n  name: sgd\n  momentum: 0.9\nlayers: [1, 2]\n");
    dir_.WriteFile("cube/workspace/settings.json", "{\"seed\": 1, \"name\": \"x\"}\n");
    CubeLoadOptions options;
    options.path = dir_.path() + "/cube";
    absl::StatusOr<Cube> cube = LoadCube(options);
    ASSERT_TRUE(cube.ok()) << cube.status();
    cube_ = *cube;
  }

  SweepRunSpec Run(const std::vector<std::string>& axes) {
    absl::StatusOr<SweepSpec> spec = SweepSpec::Parse(axes, "", 1);
    EXPECT_TRUE(spec.ok()) << spec.status();
    return spec->Runs()[0];
  }

  TempDir dir_;
  Cube cube_;
};

// A few hundred bytes of nested aliases would expand into megabytes in
// every run's copy: refused, naming the file and line, nothing written.
TEST_F(RunInputsTest, AnAliasBombInASweptFileIsRefusedBeforeAnyCopy) {
  std::string bomb = "lr: 0.1\nl0: &l0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 6; ++i) {
    const std::string a = "*l" + std::to_string(i - 1);
    bomb += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [" + a;
    for (int j = 1; j < 9; ++j) bomb += ", " + a;
    bomb += "]\n";
  }
  ASSERT_LT(bomb.size(), 400u);
  dir_.WriteFile("cube/workspace/params.yaml", bomb);
  RunInputs inputs(&cube_, {"train"}, "s1");
  absl::StatusOr<RunPlan> plan = inputs.Prepare(Run({"parameters_file:lr=0.01"}));
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(plan.status().message()),
              ::testing::HasSubstr("params.yaml:6:10: YAML aliases expand to more than 10000"));
  EXPECT_EQ(ReadFileContent(cube_.workspace + "/runs/s1/r000/params.yaml"), "");
}

TEST_F(RunInputsTest, EachRunGetsItsOwnFileCopyAndOutputPlaces) {
  RunInputs inputs(&cube_, {"train"}, "s1");
  absl::StatusOr<RunPlan> plan = inputs.Prepare(
      Run({"parameters_file:optimizer.name=adam", "parameters_file:lr=0.01", "-P:docker.image=y"}));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->run_dir, "runs/s1/r000");
  const std::string copy = cube_.workspace + "/runs/s1/r000/params.yaml";
  absl::StatusOr<YAML::Node> written = ReadYamlFile(copy, copy);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ((*written)["lr"].as<std::string>(), "0.01");
  EXPECT_EQ((*written)["optimizer"]["name"].as<std::string>(), "adam");
  // The rest of the file is kept, in its order.
  EXPECT_EQ((*written)["optimizer"]["momentum"].as<std::string>(), "0.9");
  EXPECT_EQ((*written)["layers"].size(), 2u);
  EXPECT_EQ(written->begin()->first.as<std::string>(), "lr");
  // The original is untouched.
  EXPECT_EQ(ReadFileContent(cube_.workspace + "/params.yaml"),
            "lr: 0.1\noptimizer:\n  name: sgd\n  momentum: 0.9\nlayers: [1, 2]\n");
  EXPECT_THAT(plan->overrides,
              Contains("tasks.train.parameters.inputs.parameters_file.default=runs/s1/r000/"
                       "params.yaml"));
  EXPECT_THAT(plan->overrides, Contains("docker.image=y"));
  EXPECT_THAT(plan->overrides,
              Contains("tasks.train.parameters.outputs.model.default=runs/s1/r000/model/"));
  EXPECT_THAT(plan->overrides,
              Contains("tasks.train.parameters.outputs.log.default=runs/s1/r000/logs/train.log"));
  EXPECT_THAT(plan->overrides, Contains("run.index=0"));
  EXPECT_THAT(plan->output_paths, ElementsAre("runs/s1/r000/model", "runs/s1/r000/logs/train.log"));
  EXPECT_THAT(plan->shared_outputs, ElementsAre("/tmp/shared"));
  // The overrides load: the run's cube reads the copy and writes apart.
  CubeLoadOptions options;
  options.path = cube_.root;
  options.overrides = plan->overrides;
  absl::StatusOr<Cube> run_cube = LoadCube(options);
  ASSERT_TRUE(run_cube.ok()) << run_cube.status();
  EXPECT_EQ(run_cube->tasks.at("train").inputs[0].host_path, copy);
  EXPECT_EQ(run_cube->tasks.at("train").outputs[0].host_path,
            cube_.workspace + "/runs/s1/r000/model");
}

TEST_F(RunInputsTest, JsonFilesStayJsonAndBarePathParametersAreOverridden) {
  RunInputs inputs(&cube_, {"train"}, "s2");
  absl::StatusOr<RunPlan> plan = inputs.Prepare(Run({"settings:seed=7", "settings:tag=abc"}));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(ReadFileContent(cube_.workspace + "/runs/s2/r000/settings.json"),
            "{\n  \"seed\": 7,\n  \"name\": \"x\",\n  \"tag\": \"abc\"\n}\n");
  EXPECT_THAT(plan->overrides,
              Contains("tasks.train.parameters.inputs.settings=runs/s2/r000/settings.json"));
}

// A reader of the copy sees the types the original had: quoted stays a
// string, flow stays flow; the swept value is plain (typed by the reader).
TEST_F(RunInputsTest, QuotedScalarsStayStrings) {
  dir_.WriteFile("cube/workspace/params.yaml",
                 "id: \"123\"\nflag: 'true'\nsizes: [1, '2']\nempty: ~\nlr: 0.1\n");
  RunInputs inputs(&cube_, {"train"}, "s4");
  absl::StatusOr<RunPlan> plan = inputs.Prepare(Run({"parameters_file:lr=0.5"}));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(ReadFileContent(cube_.workspace + "/runs/s4/r000/params.yaml"),
            "id: \"123\"\nflag: \"true\"\nsizes: [1, \"2\"]\nempty: ~\nlr: 0.5\n");
}

TEST_F(RunInputsTest, AKeyThroughAScalarIsRefusedNamingTheAxis) {
  RunInputs inputs(&cube_, {"train"}, "s3");
  absl::StatusOr<RunPlan> plan = inputs.Prepare(Run({"parameters_file:lr.sub=1"}));
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(plan.status().message(), ::testing::HasSubstr("--sweep parameters_file:lr.sub"));
}

}  // namespace
}  // namespace mlcube
