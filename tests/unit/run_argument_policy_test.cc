#include "agent/runtimes/run_argument_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_split.h"

namespace mlcube {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> Words(const std::string& text) {
  return absl::StrSplit(text, ' ', absl::SkipEmpty());
}

absl::Status DockerRun(const std::string& text, const HostAccessPolicy& admin = {}) {
  return RunArgumentPolicy(RuntimeFamily::kDocker, RuntimeStep::kRun, admin)
      .Check(Words(text), "docker.cpu_args");
}

absl::Status ApptainerRun(const std::string& text, const HostAccessPolicy& admin = {}) {
  return RunArgumentPolicy(RuntimeFamily::kApptainer, RuntimeStep::kRun, admin)
      .Check(Words(text), "singularity.run_args");
}

absl::Status ApptainerBuild(const std::string& text) {
  return RunArgumentPolicy(RuntimeFamily::kApptainer, RuntimeStep::kBuild, {})
      .Check(Words(text), "singularity.build_args");
}

TEST(RunArgumentPolicyTest, AllowsWhatRealCubesUse) {
  for (const char* args : {"",
                           "--gpus all",
                           "--gpus=all",
                           "--shm-size 1g",
                           "--shm-size=8g",
                           "--ipc=private",
                           "--ipc shareable",
                           "-e A=1",
                           "-eA=1",
                           "--env=A=",
                           "--ulimit memlock=-1 --ulimit stack=67108864",
                           "--memory 4g -m 2g",
                           "--memory-swap=-1",
                           "--cpus 2 --cpuset-cpus 0-3",
                           "--entrypoint python3",
                           "--entrypoint=",
                           "--runtime=nvidia",
                           "--network none",
                           "--net=bridge",
                           "--network=default",
                           "-w /work",
                           "--workdir=/w",
                           "--tmpfs /scratch",
                           "-it",
                           "-t -i",
                           "--tty --interactive",
                           "--init",
                           "--rm",
                           "--rm=false",
                           "-t=false",
                           "-ite A=1",
                           "-itm1g",
                           "--cap-drop ALL",
                           "--cgroupns private",
                           "--read-only",
                           "--gpus all --gpus all"}) {
    EXPECT_TRUE(DockerRun(args).ok()) << args << ": " << DockerRun(args);
  }
}

TEST(RunArgumentPolicyTest, RefusesHostAccessInEverySpelling) {
  for (const char* args : {"-v/:/host",
                           "-v /:/host",
                           "--volume=/:/host",
                           "--volume /:/host",
                           "-itv/:/h",
                           "-tv /:/h",
                           "-v=/:/h",
                           "--mount type=bind,src=/,dst=/h",
                           "--volumes-from x",
                           "-u0",
                           "-u=0",
                           "-u 0",
                           "--user=0",
                           "--user 0:0",
                           "-itu0",
                           "--privileged",
                           "--privileged=false",
                           "--cap-add=ALL",
                           "--cap-add SYS_ADMIN",
                           "--device /dev/sda",
                           "--device=/dev/mem",
                           "--device-cgroup-rule=a",
                           "--network host",
                           "--network=host",
                           "--net host",
                           "--net=container:abc",
                           "--network=mynet",
                           "--ipc host",
                           "--ipc=host",
                           "--ipc=container:x",
                           "--pid=host",
                           "--pid host",
                           "--uts=host",
                           "--userns=host",
                           "--cgroupns=host",
                           "--env-file /etc/x",
                           "--env-file=/x",
                           "--cidfile /x",
                           "--security-opt seccomp=unconfined",
                           "--group-add 0",
                           "-p 80:80",
                           "-P",
                           "-itP",
                           "--publish=1:1",
                           "--runtime=runsc",
                           "--name x",
                           "--label mlcube-agent.job=other",
                           "-d",
                           "--sysctl a=b",
                           "-e 1ABC",
                           "--env=A-B",
                           "-e="}) {
    absl::Status status = DockerRun(args);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << args;
  }
}

TEST(RunArgumentPolicyTest, RefusesUnknownOptionsPositionalsAndEndOfOptions) {
  for (const char* args : {"--shm-sizes 1g", "-x", "-iX", "--frobnicate", "---v", "--=x", "image",
                           "--rm busybox", "-- -v", "--", "-", "--shm-size", "-e", "--rm=yes",
                           "-t=1g", "--gpus all sh", "-c 2", "-h x"}) {
    absl::Status status = DockerRun(args);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << args;
  }
}

TEST(RunArgumentPolicyTest, ValuesAreNeverReadAsOptions) {
  // pflag gives "--shm-size" the next word whatever it looks like, so the
  // policy does too: "-v/:/host" here is a (bad) size, not a bind.
  EXPECT_TRUE(DockerRun("--shm-size -v/:/host").ok());
  EXPECT_TRUE(DockerRun("-e -v/:/host=1").ok());
  // And what follows a complete option is an option again.
  EXPECT_FALSE(DockerRun("--shm-size=1g -v/:/host").ok());
  EXPECT_FALSE(DockerRun("-it -v/:/host").ok());
}

TEST(RunArgumentPolicyTest, MessageNamesKeyArgumentAndReason) {
  absl::Status status = DockerRun("--shm-size=1g -v/:/host");
  EXPECT_EQ(status.message(),
            "docker.cpu_args: \"-v/:/host\" mounts a host path into the container; the agent does "
            "not allow extra binds");
  EXPECT_THAT(DockerRun("--network host").message(),
              HasSubstr("\"--network host\" shares the host's network"));
  EXPECT_THAT(DockerRun("--frobnicate").message(),
              HasSubstr("docker.cpu_args: \"--frobnicate\" is an unknown option"));
  EXPECT_THAT(DockerRun("-e 1A").message(), HasSubstr("\"-e 1A\" copies a variable whose name"));
  const std::string escaped = std::string(DockerRun("--x\n\x1b[2J").message());
  EXPECT_EQ(escaped.find('\n'), std::string::npos);
  EXPECT_EQ(escaped.find('\x1b'), std::string::npos);
  EXPECT_LT(DockerRun("--" + std::string(5000, 'a')).message().size(), 200u);
}

TEST(RunArgumentPolicyTest, AdminGrantsHostModesAndBindRoots) {
  HostAccessPolicy admin;
  admin.allow_host_network = true;
  admin.allow_host_ipc = true;
  admin.allow_host_pid = true;
  admin.allow_published_ports = true;
  admin.bind_roots = {{"/datasets", false}, {"/scratch", true}};
  EXPECT_TRUE(DockerRun("--network=host --ipc host --pid=host -p 8080:80 -P", admin).ok());
  EXPECT_TRUE(DockerRun("-v /datasets/imagenet:/data:ro", admin).ok());
  EXPECT_TRUE(DockerRun("-v/scratch/alice:/s", admin).ok());
  EXPECT_FALSE(DockerRun("-v /datasets/imagenet:/data", admin).ok());  // rw below a ro root
  EXPECT_FALSE(DockerRun("-v /datasets/../etc:/e:ro", admin).ok());
  EXPECT_FALSE(DockerRun("-v /datasetsX:/e:ro", admin).ok());
  EXPECT_FALSE(DockerRun("-v /:/h:ro", admin).ok());
  EXPECT_FALSE(DockerRun("-v myvolume:/h:ro", admin).ok());
  EXPECT_FALSE(DockerRun("-v /datasets:/d:ro,rshared", admin).ok());
  EXPECT_FALSE(DockerRun("--network=container:x --ipc=container:y", admin).ok());
  EXPECT_FALSE(DockerRun("--privileged", admin).ok());
  EXPECT_TRUE(ApptainerRun("-B /datasets/a:/a:ro,/scratch/b", admin).ok());
  EXPECT_FALSE(ApptainerRun("-B /datasets/a:/a:ro,/etc", admin).ok());
  EXPECT_FALSE(ApptainerRun("-B /datasets/a", admin).ok());  // rw by default
  // Apptainer reads '^' as a bind separator too: this would bind /etc, and
  // /datasets/a read-write; '\' escapes, quotes and bytes Go rewrites.
  EXPECT_FALSE(ApptainerRun("-B /datasets/a^/etc:/x:ro", admin).ok());
  EXPECT_FALSE(ApptainerRun("-B /datasets/a\\:/x:ro", admin).ok());
  EXPECT_FALSE(ApptainerRun("-B /datasets/\"a\":/x:ro", admin).ok());
  EXPECT_FALSE(ApptainerRun("-B /datasets/a\xff:/x:ro", admin).ok());
  EXPECT_FALSE(DockerRun("-v /datasets/a\xff:/d:ro", admin).ok());
}

TEST(RunArgumentPolicyTest, ApptainerRunGrammar) {
  for (const char* args : {"",
                           "--nv",
                           "--nvccli",
                           "--rocm",
                           "-e",
                           "--cleanenv",
                           "-c",
                           "-C",
                           "--containall",
                           "--env A=1",
                           "--env=A=1,B=2",
                           "--pwd /w",
                           "-ecp",
                           "--writable-tmpfs",
                           "--no-home",
                           "--net --network none",
                           "-n",
                           "--network=none",
                           "--pid",
                           "-p",
                           "--ipc",
                           "--memory 1G",
                           "--cpus=2"}) {
    EXPECT_TRUE(ApptainerRun(args).ok()) << args << ": " << ApptainerRun(args);
  }
  for (const char* args : {"-B/x:/y",
                           "-B=/x",
                           "-B /:/host",
                           "--bind=/x",
                           "--mount src=/,dst=/h",
                           "--fusemount x",
                           "-o /ov",
                           "--overlay=/o",
                           "-S /s",
                           "-W /tmp",
                           "-H /root",
                           "--home=/x:/y",
                           "--add-caps all",
                           "--allow-setuid",
                           "--keep-privs",
                           "--security=seccomp:x",
                           "--network bridge",
                           "--network-args portmap=80:80/tcp",
                           "--env-file /x",
                           "--env 1HOME",
                           "-w",
                           "--writable",
                           "--fakeroot",
                           "-f",
                           "-ecB/x",
                           "-e FOO=1",
                           "--apply-cgroups=/x",
                           "--boot",
                           "image.sif",
                           "--",
                           "--env"}) {
    EXPECT_EQ(ApptainerRun(args).code(), absl::StatusCode::kInvalidArgument) << args;
  }
}

TEST(RunArgumentPolicyTest, ApptainerBuildArguments) {
  EXPECT_TRUE(ApptainerBuild("--fakeroot").ok());
  EXPECT_TRUE(ApptainerBuild("-f -F --notest --build-arg V=1").ok());
  for (const char* args :
       {"--sandbox", "-s", "-B /:/h", "--bind=/x", "--tmpdir /x", "--build-arg-file /x",
        "--build-arg HOME", "--docker-host tcp://x", "--authfile /x", "--unknown", "docker://x"}) {
    EXPECT_EQ(ApptainerBuild(args).code(), absl::StatusCode::kInvalidArgument) << args;
  }
  EXPECT_THAT(ApptainerBuild("--sandbox").message(), HasSubstr("singularity.build_args:"));
  // --fakeroot is for builds only.
  EXPECT_THAT(ApptainerRun("--fakeroot").message(), HasSubstr("only singularity.build_args"));
}

TEST(RunArgumentPolicyTest, DockerBuildArguments) {
  RunArgumentPolicy build(RuntimeFamily::kDocker, RuntimeStep::kBuild, {});
  EXPECT_TRUE(build.Check(Words("--build-arg A=1 --no-cache --pull --target t"), "k").ok());
  for (const char* args : {"-t mlcube-local/cn-bob:x", "-f /etc/passwd", "--output=/tmp/x", "-o /x",
                           "--secret id=a,src=/x", "--ssh default", "--build-arg HOME",
                           "--build-context x=/etc", "--network host", "--iidfile /x"}) {
    EXPECT_FALSE(build.Check(Words(args), "docker.build_args").ok()) << args;
  }
}

// `-e NAME` (no value) copies the caller's NAME (MLCube runs on the
// caller's machine): allowed for runs, never for builds, and taken out of
// the arguments so the runtime never reads the agent's own environment.
TEST(RunArgumentPolicyTest, TakesOutVariablesCopiedFromTheCaller) {
  struct Case {
    RuntimeFamily family;
    const char* args;
    const char* kept;
    const char* names;
  };
  const Case cases[] = {
      {RuntimeFamily::kDocker, "-e HF_TOKEN", "", "HF_TOKEN"},
      {RuntimeFamily::kDocker, "--env HF_TOKEN --shm-size=1g", "--shm-size=1g", "HF_TOKEN"},
      {RuntimeFamily::kDocker, "--env=HF_TOKEN -e A=1", "-e A=1", "HF_TOKEN"},
      {RuntimeFamily::kDocker, "-eX_1 -it -e Y", "-it", "X_1 Y"},
      {RuntimeFamily::kDocker, "--gpus all -e A=1 --ipc=private", "--gpus all -e A=1 --ipc=private",
       ""},
      // The value of --shm-size is never read as an option.
      {RuntimeFamily::kDocker, "--shm-size -e -e B", "--shm-size -e", "B"},
      {RuntimeFamily::kApptainer, "--nv --env HF_TOKEN", "--nv", "HF_TOKEN"},
      {RuntimeFamily::kApptainer, "--env=A=1,B=2 --env=C", "--env=A=1,B=2", "C"},
      // Apptainer's -e is --cleanenv, not --env.
      {RuntimeFamily::kApptainer, "-e --nv", "-e --nv", ""},
  };
  for (const Case& c : cases) {
    const RunArgumentPolicy policy(c.family, RuntimeStep::kRun, {});
    ASSERT_TRUE(policy.Check(Words(c.args), "k").ok()) << c.args;
    auto split = policy.TakeCopiedVariables(Words(c.args), "k");
    ASSERT_TRUE(split.ok()) << c.args << ": " << split.status();
    EXPECT_EQ(split->args, Words(c.kept)) << c.args;
    EXPECT_EQ(split->names, Words(c.names)) << c.args;
  }
  const RunArgumentPolicy docker(RuntimeFamily::kDocker, RuntimeStep::kRun, {});
  EXPECT_THAT(docker.TakeCopiedVariables(Words("-te HOME"), "docker.cpu_args").status().message(),
              HasSubstr("docker.cpu_args: \"-te HOME\" copies a variable inside a group"));
  // Builds never copy: a build argument without a value would read the
  // agent's own environment.
  const RunArgumentPolicy build(RuntimeFamily::kDocker, RuntimeStep::kBuild, {});
  EXPECT_THAT(build.Check(Words("--build-arg HOME"), "k").message(),
              HasSubstr("agent's environment"));
}

TEST(RunArgumentPolicyTest, RuntimeFamilies) {
  EXPECT_EQ(RuntimeFamilyOf("docker"), RuntimeFamily::kDocker);
  EXPECT_EQ(RuntimeFamilyOf("podman"), RuntimeFamily::kDocker);
  EXPECT_EQ(RuntimeFamilyOf("apptainer"), RuntimeFamily::kApptainer);
  EXPECT_EQ(RuntimeFamilyOf("singularity"), RuntimeFamily::kApptainer);
}

}  // namespace
}  // namespace mlcube
