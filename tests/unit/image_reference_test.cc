// Image names a cube gives must resolve by name, never by local image ID
// (Docker falls back to an ID-prefix search: "aa9c" or "sha256:aa9c" runs
// whatever image's ID starts with it, another identity's build included).

#include "agent/runtimes/image_reference.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/runtimes/apptainer_recipe_check.h"
#include "agent/runtimes/container_runtime.h"
#include "agent/runtimes/dockerfile_check.h"

namespace mlcube {
namespace {

using ::testing::HasSubstr;

constexpr char kId[] = "4f2a0b9c1d3e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";

TEST(ImageReferenceTest, RegistryNamesPass) {
  for (const std::string& name : std::vector<std::string>{
           "busybox", "ubuntu:22.04", "mlcommons/mnist:0.0.1", "mlcube/hello:0.1",
           "ghcr.io/org/repo/img:v1.2_3", "localhost:5000/a/b", "registry.example.com:443/x/y:z",
           "my-org/my__img.x:latest", std::string("busybox@sha256:") + kId,
           std::string("docker.io/library/ubuntu:22.04@sha256:") + kId, std::string("cafe:1.0")}) {
    EXPECT_TRUE(CheckImageReference(name, "docker.image").ok()) << name;
  }
}

TEST(ImageReferenceTest, LocalImageIdsAndMalformedNamesAreRefusedNamingTheKey) {
  for (const std::string& name : std::vector<std::string>{
           std::string("aa9c"), std::string("4f2a0b9c1d3e"), std::string(kId),
           std::string("sha256:4f2a0b9c1d3e"), std::string("sha256:") + kId,
           std::string("sha512:4f2a"), std::string(""), std::string("Upper/Case"),
           std::string("a//b"), std::string("-x"), std::string("x:"), std::string("x:-tag"),
           std::string("x@sha256:abc"), std::string("a b"), std::string("a/b:c/d"),
           std::string("x\n")}) {
    absl::Status s = CheckImageReference(name, "docker.image");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(std::string(s.message()), HasSubstr("docker.image: '")) << name;
    EXPECT_EQ(std::string(s.message()).find('\n'), std::string::npos) << name;
  }
}

TEST(ImageReferenceTest, CubeImageNamesAreCheckedToo) {
  EXPECT_TRUE(CheckCubeImageName("mlcube/hello:0.1", "docker.image").ok());
  EXPECT_TRUE(CheckCubeImageName("", "docker.image").ok());
  EXPECT_THAT(std::string(CheckCubeImageName("aa9c", "docker.image").message()),
              HasSubstr("local image ID"));
  EXPECT_THAT(std::string(CheckCubeImageName("mlcube-local/cn-bob:x", "docker.image").message()),
              HasSubstr("mlcube-local/ namespace"));
}

TEST(DockerfileCheckTest, BaseImagesMustBeRegistryNamesOrEarlierStages) {
  DockerfileCheck check("docker.build_file: Dockerfile");
  EXPECT_TRUE(check
                  .Check("# syntax\nFROM --platform=linux/amd64 ubuntu:22.04 AS build\n"
                         "RUN --mount=type=cache,target=/c make\nFROM scratch\n"
                         "COPY --from=build /out /out\nCOPY --from=0 /a /a\n"
                         "COPY --from=busybox:1.36 /bin/busybox /bin/\nADD a.tar /\n")
                  .ok());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"FROM aa9c\n", "line 1: FROM: 'aa9c' looks like a local image ID"},
      {"FROM ubuntu\nFROM \\\n  sha256:4f2a0b9c\n", "line 2: FROM: 'sha256:4f2a0b9c'"},
      {"from mlcube-local/cn-bob:hello-1\n", "mlcube-local/ namespace"},
      {"FROM scratch\nCOPY --from=mlcube-local/cn-bob:x /data /d\n", "line 2: COPY"},
      {"FROM scratch\nRUN --mount=type=bind,from=4f2a0b9c1d3e,target=/b cat /b/x\n",
       "line 2: RUN: '4f2a0b9c1d3e'"},
      {"ARG BASE=aa9c\nFROM $BASE\n", "line 2: FROM '$BASE' = aa9c: 'aa9c' looks like a local"},
  };
  for (const auto& [dockerfile, expected] : cases) {
    absl::Status s = check.Check(dockerfile);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << dockerfile;
    EXPECT_THAT(std::string(s.message()), HasSubstr("docker.build_file: Dockerfile line "));
    EXPECT_THAT(std::string(s.message()), HasSubstr(expected)) << dockerfile;
  }
}

// `FROM ${ARG}` as real cubes write it: the image the build will really
// use, from the Dockerfile's ARG defaults and the build's arguments
// (docker.build_args, -P, the job's environment), is checked like a
// literal name; only what stays unresolved is refused.
TEST(DockerfileCheckTest, ImagesNamedByBuildArgumentsAreCheckedAsResolved) {
  struct Case {
    const char* dockerfile;
    std::map<std::string, std::string> build_args;
    const char* refused;  // "" when allowed, else a part of the message
  };
  const Case cases[] = {
      {"ARG BASE=pytorch/pytorch:2.1.0-cuda12.1\nFROM ${BASE}\n", {}, ""},
      {"ARG BASE\nFROM $BASE\n", {{"BASE", "python:3.11-slim"}}, ""},
      {"ARG BASE=ubuntu:22.04\nFROM ${BASE}\n",
       {{"BASE", "mlcube-local/cn-bob:x-1"}},
       "mlcube-local/ namespace"},
      {"ARG CUDA=12.1\nARG IMG=\"nvidia/cuda:${CUDA}.0-runtime-ubuntu22.04\"\nFROM $IMG AS base\n"
       "FROM base\n",
       {},
       ""},
      {"ARG REG=docker.io\nARG TAG\nFROM ${REG}/library/python:${TAG:-3.10}\n", {}, ""},
      {"ARG SUFFIX\nFROM python:3.10${SUFFIX:+-}${SUFFIX}\n", {{"SUFFIX", "slim"}}, ""},
      // Unresolved: no default, no argument; not declared before FROM.
      {"ARG BASE\nFROM ${BASE}\n", {}, "build arguments that have no value"},
      {"FROM scratch\nARG BASE=ubuntu\nFROM ${BASE}\n", {}, "have no value"},
      {"FROM ${BASE}\n", {{"BASE", "ubuntu"}}, "have no value"},
      {"ARG BASE=ubuntu\nFROM ${BASE/u/x}\n", {}, "cannot resolve"},
      {"ARG BASE=aa9c0b\nFROM ${BASE}\n", {}, "looks like a local image ID"},
      // A stage's ARG brings the global one in; COPY --from expands in it.
      {"ARG TOOLS=busybox:1.36\nFROM scratch\nARG TOOLS\nCOPY --from=${TOOLS} /bin/busybox /\n",
       {},
       ""},
      {"ARG TOOLS=busybox:1.36\nFROM scratch\nCOPY --from=${TOOLS} /bin/busybox /\n",
       {},
       "line 3: COPY"},
  };
  for (const Case& c : cases) {
    DockerfileCheck check("docker.build_file: Dockerfile", c.build_args);
    absl::Status s = check.Check(c.dockerfile);
    if (*c.refused == '\0') {
      EXPECT_TRUE(s.ok()) << c.dockerfile << ": " << s;
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.dockerfile;
      EXPECT_THAT(std::string(s.message()), HasSubstr(c.refused)) << c.dockerfile;
    }
  }
}

TEST(ApptainerRecipeImageTest, DockerDaemonSourcesMustNotNameAnotherIdentitysBuild) {
  char tmpl[] = "/tmp/recipe-image-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  auto context = BuildContext::Open(tmpl, tmpl, "singularity.build_context");
  ASSERT_TRUE(context.ok());
  auto check = [&](const std::string& recipe) {
    return ApptainerRecipeCheck(recipe, "singularity.build_file: r").Check(*context);
  };
  EXPECT_TRUE(check("Bootstrap: docker-daemon\nFrom: mlcube/hello:0.1\n").ok());
  EXPECT_THAT(std::string(check("Bootstrap: docker-daemon\nFrom: 4f2a0b9c1d3e\n").message()),
              HasSubstr("line 1: From: '4f2a0b9c1d3e' looks like a local image ID"));
  EXPECT_THAT(
      std::string(check("Bootstrap: docker-daemon\nFrom: mlcube-local/cn-bob:x\n").message()),
      HasSubstr("mlcube-local/ namespace"));
  EXPECT_FALSE(check("Bootstrap: docker\nFrom: sha256:4f2a\n").ok());
  rmdir(tmpl);
}

TEST(DockerHubQualifiedTest, NamesWithoutARegistryAreDockerHubs) {
  EXPECT_EQ(DockerHubQualified("busybox"), "docker.io/library/busybox");
  EXPECT_EQ(DockerHubQualified("busybox:1.36"), "docker.io/library/busybox:1.36");
  EXPECT_EQ(DockerHubQualified("mlcommons/mnist:0.0.1"), "docker.io/mlcommons/mnist:0.0.1");
  EXPECT_EQ(DockerHubQualified("quay.io/org/img:1"), "quay.io/org/img:1");
  EXPECT_EQ(DockerHubQualified("registry:5000/img"), "registry:5000/img");
  EXPECT_EQ(DockerHubQualified("localhost/img"), "localhost/img");
  EXPECT_EQ(DockerHubQualified("docker.io/library/busybox"), "docker.io/library/busybox");
}

}  // namespace
}  // namespace mlcube
