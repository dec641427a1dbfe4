// Which SIF and build file a cube gets when its singularity: section is
// partial, as MLCube's singularity runner decides (Config.merge at
// mlcommons/mlcube@6b32fa3), with small cubes written here.

#include "common/singularity_source.h"

#include <gtest/gtest.h>

#include <string>

#include "common/cube_loader.h"
#include "common/effective_config.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::TempDir;

constexpr char kTasks[] = "tasks:\n  t:\n    parameters: {inputs: {}, outputs: {}}\n";

TEST(SingularitySourceTest, PartialSectionsGetMlcubesImageAndBuildFile) {
  struct Case {
    const char* name;
    const char* sections;  // docker: and singularity: as the cube writes them
    const char* recipe;    // a file written beneath the cube's root ("" none)
    const char* image;
    const char* build_file;
    SingularitySource source;
  };
  const Case cases[] = {
      {"no section: the docker image", "docker: {image: mlcommons/mnist:0.0.1}\n", "",
       "mlcommonsmnist001.sif", "docker://mlcommons/mnist:0.0.1", SingularitySource::kDockerImage},
      {"no section, a recipe at the root: named after the recipe",
       "docker: {image: mlcommons/mnist:0.0.1}\n", "Singularity.recipe", "Singularityrecipe.sif",
       "Singularity.recipe", SingularitySource::kRecipe},
      {"an empty section is no section",
       "docker: {image: mlcommons/mnist:0.0.1}\nsingularity: {}\n", "", "mlcommonsmnist001.sif",
       "docker://mlcommons/mnist:0.0.1", SingularitySource::kDockerImage},
      {"an image and a recipe at the root: kept", "singularity: {image: mnist-0.0.1.sif}\n",
       "Singularity.recipe", "mnist-0.0.1.sif", "Singularity.recipe", SingularitySource::kRecipe},
      {"an image without any recipe: MLCube overwrites it from docker",
       "docker: {image: org/cube:1.0}\nsingularity: {image: mine.sif}\n", "", "orgcube10.sif",
       "docker://org/cube:1.0", SingularitySource::kDockerImage},
      {"a recipe only in a build context: MLCube looks at the root",
       "docker: {image: org/cube:1.0}\n"
       "singularity: {image: mine.sif, build_file: Singularity.def}\n",
       "build/Singularity.def", "orgcube10.sif", "docker://org/cube:1.0",
       SingularitySource::kDockerImage},
      {"a recipe in the build context the section names (not MLCube's key)",
       "docker: {image: org/cube:1.0}\n"
       "singularity: {image: mine.sif, build_context: build, build_file: Singularity.def}\n",
       "build/Singularity.def", "mine.sif", "Singularity.def", SingularitySource::kRecipe},
      {"a named recipe beneath the root, no image", "singularity: {build_file: recipes/cube.def}\n",
       "recipes/cube.def", "recipescubedef.sif", "recipes/cube.def", SingularitySource::kRecipe},
      {"a docker:// build file, no image",
       "docker: {image: a/b:1}\nsingularity: {build_file: \"docker://org/x:2\"}\n", "",
       "dockerorgx2.sif", "docker://org/x:2", SingularitySource::kRecipe},
      {"a local docker image (ours)",
       "docker: {image: a/b:1}\nsingularity: {image: s.sif, build_file: \"docker-daemon:a/b:1\"}\n",
       "", "s.sif", "docker-daemon:a/b:1", SingularitySource::kRecipe},
      {"a docker archive", "docker: {image: a/b:1, tar_file: b.tar}\n", "", "ab1.sif",
       "docker-archive:b.tar", SingularitySource::kDockerImage},
      {"nothing to build from: as written", "singularity: {image: given.sif}\n", "", "given.sif",
       "Singularity.recipe", SingularitySource::kAsWritten},
  };
  for (const Case& c : cases) {
    TempDir dir;
    dir.WriteFile("mlcube.yaml", std::string("name: demo\n") + c.sections + kTasks);
    if (*c.recipe != '\0') dir.WriteFile(c.recipe, "Bootstrap: docker\nFrom: busybox\n");
    CubeLoadOptions options;
    options.path = dir.path();
    absl::StatusOr<Cube> cube = LoadCube(options);
    ASSERT_TRUE(cube.ok()) << c.name << ": " << cube.status();
    EXPECT_EQ(cube->singularity.image, c.image) << c.name;
    EXPECT_EQ(cube->singularity.build_file, c.build_file) << c.name;
    EXPECT_EQ(cube->singularity_source, c.source) << c.name;
    // show-config's runner section says the same.
    const YAML::Node runner = EffectiveConfig(*cube).ForRunner("singularity")["runner"];
    EXPECT_EQ(runner["image"].as<std::string>(), c.image) << c.name;
    EXPECT_EQ(runner["build_file"].as<std::string>(), c.build_file) << c.name;
  }
}

TEST(SingularitySourceTest, SifNamesKeepLettersAndDigits) {
  EXPECT_EQ(SifNameFrom("mlcommons/mnist:0.0.1"), "mlcommonsmnist001.sif");
  EXPECT_EQ(SifNameFrom("Singularity.recipe"), "Singularityrecipe.sif");
  EXPECT_EQ(SifNameFrom("docker://ghcr.io/a_b/c-d:1"), "dockerghcrioabcd1.sif");
}

}  // namespace
}  // namespace mlcube
