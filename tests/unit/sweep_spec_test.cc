#include "controller/sweeps/sweep_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/cube_loader.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::TempDir;
using ::testing::HasSubstr;

std::vector<std::string> Describe(const std::vector<SweepRunSpec>& runs) {
  std::vector<std::string> out;
  for (const SweepRunSpec& run : runs) {
    std::string line = run.id + "#" + std::to_string(run.repetition);
    for (const auto& [target, value] : run.values) line += " " + target.Label() + "=" + value;
    out.push_back(line);
  }
  return out;
}

TEST(SweepSpecTest, AxesFormTheCartesianProductFirstAxisOutermost) {
  absl::StatusOr<SweepSpec> spec = SweepSpec::Parse(
      {"parameters_file:lr=0.1,0.01", "parameters_file:opt.batch=32,64", "-P:docker.image=a:1"}, "",
      1);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->RunCount(), 4u);
  EXPECT_THAT(Describe(spec->Runs()),
              ::testing::ElementsAre(
                  "r000#0 parameters_file:lr=0.1 parameters_file:opt.batch=32 -P:docker.image=a:1",
                  "r001#0 parameters_file:lr=0.1 parameters_file:opt.batch=64 -P:docker.image=a:1",
                  "r002#0 parameters_file:lr=0.01 parameters_file:opt.batch=32 -P:docker.image=a:1",
                  "r003#0 parameters_file:lr=0.01 parameters_file:opt.batch=64 "
                  "-P:docker.image=a:1"));
  EXPECT_THAT(
      spec->Labels(),
      ::testing::ElementsAre("parameters_file:lr", "parameters_file:opt.batch", "-P:docker.image"));
}

TEST(SweepSpecTest, RepeatRunsEachPointNTimesWithItsOwnIndex) {
  absl::StatusOr<SweepSpec> spec = SweepSpec::Parse({"p:lr=1,2"}, "", 3);
  ASSERT_TRUE(spec.ok()) << spec.status();
  std::vector<SweepRunSpec> runs = spec->Runs();
  ASSERT_EQ(runs.size(), 6u);
  EXPECT_EQ(runs[4].index, 4);
  EXPECT_EQ(runs[4].repetition, 1);
  EXPECT_EQ(runs[4].values[0].second, "2");
  // Only --repeat: one empty point, run N times.
  absl::StatusOr<SweepSpec> seeds = SweepSpec::Parse({}, "", 2);
  ASSERT_TRUE(seeds.ok());
  EXPECT_FALSE(seeds->empty());
  EXPECT_EQ(seeds->Runs().size(), 2u);
  EXPECT_TRUE(SweepSpec::Parse({}, "", 1)->empty());
}

TEST(SweepSpecTest, SweepFilePointsCrossTheAxes) {
  TempDir dir;
  dir.WriteFile("grid.yaml",
                "points:\n  - {'p:lr': 0.1, '-P:docker.image': 'a:1'}\n  - {'p:lr': 0.5}\n");
  absl::StatusOr<SweepSpec> spec = SweepSpec::Parse({"p:batch=8,16"}, dir.path() + "/grid.yaml", 1);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(Describe(spec->Runs()),
              ::testing::ElementsAre("r000#0 p:lr=0.1 -P:docker.image=a:1 p:batch=8",
                                     "r001#0 p:lr=0.1 -P:docker.image=a:1 p:batch=16",
                                     "r002#0 p:lr=0.5 p:batch=8", "r003#0 p:lr=0.5 p:batch=16"));
}

TEST(SweepSpecTest, MalformedAxesAreRefusedNamingThem) {
  const auto error = [](std::vector<std::string> axes, int repeat = 1) {
    absl::StatusOr<SweepSpec> spec = SweepSpec::Parse(axes, "", repeat);
    EXPECT_FALSE(spec.ok());
    return std::string(spec.status().message());
  };
  EXPECT_THAT(error({"p:lr="}), HasSubstr("--sweep=p:lr=: empty value list"));
  EXPECT_THAT(error({"p:lr=,,"}), HasSubstr("empty value list"));
  EXPECT_THAT(error({"p:lr=1", "p:lr=2"}), HasSubstr("duplicate axis p:lr"));
  EXPECT_THAT(error({"lr=1"}), HasSubstr("--sweep=lr=1: expected PARAM:key.path"));
  EXPECT_THAT(error({"p:a..b=1"}), HasSubstr("bad key path 'a..b'"));
  EXPECT_THAT(error({"p:lr"}), HasSubstr("expected PARAM:key.path=v1,v2"));
  EXPECT_THAT(error({}, 0), HasSubstr("--repeat"));
  EXPECT_THAT(error({"p:a=1,2,3,4,5,6,7,8,9,10", "p:b=1,2,3,4,5,6,7,8,9,10",
                     "p:c=1,2,3,4,5,6,7,8,9,10", "p:d=1,2,3,4,5,6,7,8,9,10,11"}),
              HasSubstr("expands to 11000 runs"));
}

TEST(SweepSpecTest, BadSweepFileIsRefusedNamingIt) {
  TempDir dir;
  dir.WriteFile("empty.yaml", "points: []\n");
  dir.WriteFile("nopoints.yaml", "other: 1\n");
  dir.WriteFile("dup.yaml", "- {'p:lr': 1}\n");
  dir.WriteFile("nested.yaml", "- {'p:lr': [1, 2]}\n");
  EXPECT_THAT(SweepSpec::Parse({}, dir.path() + "/empty.yaml", 1).status().message(),
              HasSubstr("non-empty list of points"));
  EXPECT_THAT(SweepSpec::Parse({}, dir.path() + "/nopoints.yaml", 1).status().message(),
              HasSubstr("non-empty list of points"));
  EXPECT_THAT(SweepSpec::Parse({"p:lr=1"}, dir.path() + "/dup.yaml", 1).status().message(),
              HasSubstr("duplicate axis p:lr"));
  EXPECT_THAT(SweepSpec::Parse({}, dir.path() + "/nested.yaml", 1).status().message(),
              HasSubstr("point 0: keys and values must be scalars"));
  EXPECT_EQ(SweepSpec::Parse({}, dir.path() + "/missing.yaml", 1).status().code(),
            absl::StatusCode::kNotFound);
}

class SweepSpecCubeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.WriteFile("cube/mlcube.yaml",
                   "name: c\ndocker: {image: x}\ntasks:\n  train:\n    parameters:\n"
                   "      inputs:\n        parameters_file: {type: file, default: params.yaml}\n"
                   "        names: {type: file, default: names.txt}\n"
                   "        data: {type: directory, default: data/}\n"
                   "      outputs:\n        out: {type: directory, default: out/}\n");
    dir_.WriteFile("cube/workspace/params.yaml", "lr: 0.1\n");
    dir_.WriteFile("cube/workspace/names.txt", "a\n");
    CubeLoadOptions options;
    options.path = dir_.path() + "/cube";
    absl::StatusOr<Cube> cube = LoadCube(options);
    ASSERT_TRUE(cube.ok()) << cube.status();
    cube_ = *cube;
  }

  std::string Refusal(const std::string& axis) {
    absl::StatusOr<SweepSpec> spec = SweepSpec::Parse({axis}, "", 1);
    EXPECT_TRUE(spec.ok()) << spec.status();
    absl::Status status = spec->Validate(cube_, {"train"});
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << axis;
    return std::string(status.message());
  }

  TempDir dir_;
  Cube cube_;
};

TEST_F(SweepSpecCubeTest, FileAxesMustNameAYamlOrJsonInputOfTheTask) {
  absl::StatusOr<SweepSpec> good = SweepSpec::Parse({"parameters_file:lr=1", "-P:a.b=1"}, "", 1);
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(good->Validate(cube_, {"train"}).ok());
  EXPECT_THAT(Refusal("nosuchparam:lr=1"),
              HasSubstr("--sweep nosuchparam:lr: no input parameter 'nosuchparam' in task train "
                        "(file inputs: parameters_file, names)"));
  EXPECT_THAT(Refusal("names:lr=1"), HasSubstr("--sweep names:lr: 'names' is names.txt, not a "
                                               ".yaml, .yml or .json file"));
  EXPECT_THAT(Refusal("data:lr=1"), HasSubstr("not a .yaml"));
  EXPECT_THAT(Refusal("out:lr=1"), HasSubstr("'out' is an output"));
}

}  // namespace
}  // namespace mlcube
