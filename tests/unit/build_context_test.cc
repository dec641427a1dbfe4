// Builds see only their build context: files a cube names for a build are
// resolved beneath it (BuildContext), and Apptainer recipes may neither run
// on the host nor copy in files from outside (ApptainerRecipeCheck).

#include "agent/runtimes/build_context.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/runtimes/apptainer_recipe_check.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::testing::HasSubstr;

// cube/build is the context; cube/secret and other/secret lie outside it.
class BuildContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.WriteFile("cube/build/Dockerfile", "FROM scratch\n");
    dir_.WriteFile("cube/build/src/a.py", "print(1)\n");
    dir_.WriteFile("cube/secret", "cube secret\n");
    dir_.WriteFile("other/secret", "bob's secret\n");
    cube_ = dir_.path() + "/cube";
    build_ = cube_ + "/build";
  }
  void Link(const std::string& target, const std::string& name) {
    ASSERT_EQ(symlink(target.c_str(), (build_ + "/" + name).c_str()), 0) << name;
  }
  BuildContext Context() {
    auto context = BuildContext::Open(cube_, build_, "docker.build_context");
    EXPECT_TRUE(context.ok()) << context.status();
    return std::move(*context);
  }

  ::mlcube::testing::TempDir dir_;
  std::string cube_, build_;
};

TEST_F(BuildContextTest, ReadsFilesBeneathTheContext) {
  BuildContext context = Context();
  EXPECT_EQ(*context.ReadFile("Dockerfile", "docker.build_file", 1 << 20), "FROM scratch\n");
  EXPECT_EQ(*context.ReadFile("./src//a.py", "docker.build_file", 1 << 20), "print(1)\n");
  Link("src/a.py", "inside-link");
  EXPECT_EQ(*context.ReadFile("inside-link", "docker.build_file", 1 << 20), "print(1)\n");
  EXPECT_EQ(context.ReadFile("missing", "docker.build_file", 1 << 20).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(context.ReadFile("Dockerfile", "docker.build_file", 4).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(BuildContextTest, PathsLeavingTheContextAreRefusedNamingTheKey) {
  BuildContext context = Context();
  Link("../../other/secret", "escape");
  Link(dir_.path() + "/other/secret", "absolute");
  Link("../../other", "escape-dir");
  for (const std::string& name :
       {std::string("../../other/secret"), std::string("../secret"), dir_.path() + "/other/secret",
        std::string("escape"), std::string("absolute"), std::string("escape-dir/secret"),
        std::string("src/../../secret")}) {
    auto read = context.ReadFile(name, "docker.build_file", 1 << 20);
    ASSERT_FALSE(read.ok()) << name;
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(std::string(read.status().message()), HasSubstr("docker.build_file: '"));
    EXPECT_THAT(std::string(read.status().message()), HasSubstr("build context"));
  }
}

TEST_F(BuildContextTest, TheContextItselfMustStayInTheCube) {
  ASSERT_EQ(symlink("../other", (cube_ + "/linked").c_str()), 0);
  auto linked = BuildContext::Open(cube_, cube_ + "/linked", "docker.build_context");
  EXPECT_EQ(linked.status().code(), absl::StatusCode::kInvalidArgument);
  auto outside = BuildContext::Open(cube_, dir_.path() + "/other", "docker.build_context");
  EXPECT_EQ(outside.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(BuildContext::Open(cube_, cube_, "docker.build_context").ok());
}

TEST_F(BuildContextTest, CopySourcesMayNotHideALinkOutside) {
  BuildContext context = Context();
  EXPECT_TRUE(context.CheckCopySource("src", "k").ok());
  EXPECT_TRUE(context.CheckCopySource(".", "k").ok());
  dir_.WriteFile("cube/build/deep/a/b/c/file", "x");
  ASSERT_EQ(symlink("../../../../../../other/secret", (build_ + "/deep/a/b/c/leak").c_str()), 0);
  absl::Status deep = context.CheckCopySource("deep", "%files source");
  EXPECT_EQ(deep.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(deep.message()), HasSubstr("deep/a/b/c/leak"));
  EXPECT_FALSE(context.CheckCopySource(".", "k").ok());
  // A link to a directory inside would be copied with its own links
  // followed: refused too; a link to a file inside is fine.
  dir_.WriteFile("cube/build/tree/file", "x");
  ASSERT_EQ(symlink("../src", (build_ + "/tree/dirlink").c_str()), 0);
  EXPECT_THAT(std::string(context.CheckCopySource("tree", "k").message()),
              HasSubstr("symlink to a directory"));
  ASSERT_EQ(unlink((build_ + "/tree/dirlink").c_str()), 0);
  ASSERT_EQ(symlink("../src/a.py", (build_ + "/tree/filelink").c_str()), 0);
  EXPECT_TRUE(context.CheckCopySource("tree", "k").ok());
  EXPECT_EQ(context.CheckCopySource("src", "k", 0).code(), absl::StatusCode::kResourceExhausted);
}

absl::Status CheckRecipe(const BuildContext& context, const std::string& recipe) {
  return ApptainerRecipeCheck(recipe, "singularity.build_file: Singularity.recipe").Check(context);
}

TEST_F(BuildContextTest, RecipesThatStayInTheContextPass) {
  BuildContext context = Context();
  dir_.WriteFile("cube/build/base.sif", "sif");
  EXPECT_TRUE(CheckRecipe(context,
                          "Bootstrap: scratch\n%files\n    src/a.py /a.py\n    ./src /opt/src\n"
                          "    src/*.py\n    # /etc/shadow /x\n%post\n    echo ok\n"
                          "%runscript\n    exec /bin/sh \"$@\"\n")
                  .ok());
  EXPECT_TRUE(CheckRecipe(context, "Bootstrap: localimage\nFrom: base.sif\n%post\n  true\n").ok());
  EXPECT_TRUE(CheckRecipe(context, "BootStrap: docker\nFrom: ubuntu:22.04\n").ok());
  // Multi-stage: %files from an earlier stage copies inside images.
  EXPECT_TRUE(CheckRecipe(context,
                          "Bootstrap: docker\nFrom: golang:1.21\nStage: build\n%post\n  true\n"
                          "Bootstrap: scratch\n%files from build\n  /go/bin/app /app\n")
                  .ok());
}

TEST_F(BuildContextTest, RecipesThatReachTheHostAreRefused) {
  BuildContext context = Context();
  Link("../../other/secret", "escape");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Bootstrap: scratch\n%setup\n  cat /etc/shadow\n",
       "line 2: %setup runs on the agent's host"},
      {"Bootstrap: scratch\n  %SETUP\n  id\n", "line 2: %setup runs on the agent's host"},
      {"Bootstrap: scratch\n%%setup -e\n  id\n", "%setup runs on the agent's host"},
      {"Bootstrap: scratch\n%pre\n  id\n", "%pre runs on the agent's host"},
      {"Bootstrap: scratch\n%files\n  /etc/shadow /s\n", "line 3: %files source '/etc/shadow'"},
      {"Bootstrap: scratch\n%files\n  ../secret /s\n", "'../secret' leaves the build context"},
      {"Bootstrap: scratch\n%files\n  escape /s\n", "'escape' leads outside the build context"},
      {"Bootstrap: scratch\n%files\n  $(id>&2) /s\n", "has a character the agent does not pass"},
      {"Bootstrap: scratch\n%files\n  \"/etc/shadow\" /s\n", "has a character"},
      {"Bootstrap: scratch\n%files\n  ~/x /s\n", "has a character"},
      {"Bootstrap: scratch\n%files from build\n  `id` /s\n", "has a character"},
      {"Bootstrap: scratch\n%appfiles app\n  /etc/passwd /p\n", "%appfiles source '/etc/passwd'"},
      {"Bootstrap: localimage\nFrom: /srv/images/bob.sif\n", "line 1: From: '/srv/images/bob.sif'"},
      {"Bootstrap: localimage\nFrom: escape\n", "leads outside the build context"},
      {"Bootstrap: oci-archive\nFrom: ../../other/secret\n", "leaves the build context"},
      {"Bootstrap: debootstrap\nFrom: bookworm\n", "Bootstrap: 'debootstrap' is refused"},
      {"Bootstrap: scratch\n%arguments\n  F=/etc/shadow\n%files\n  {{ F }} /f\n",
       "line 5: template variables"},
      {"Bootstrap: localimage\nFrom: a\\\n  b.sif\n", "continued with"},
      {"Bootstrap: scratch\n%post\n  true\nBootstrap: localimage\nFrom: /x.sif\n", "line 4"},
  };
  for (const auto& [recipe, expected] : cases) {
    absl::Status status = CheckRecipe(context, recipe);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << recipe;
    EXPECT_THAT(std::string(status.message()), HasSubstr(expected)) << recipe;
    EXPECT_THAT(std::string(status.message()),
                HasSubstr("singularity.build_file: Singularity.recipe line "))
        << recipe;
  }
}

}  // namespace
}  // namespace mlcube
