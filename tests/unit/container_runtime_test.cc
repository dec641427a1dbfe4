// Command lines of the runtime drivers (no runtime is started here; the
// integration tests run them for real).

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "agent/engine/container_session.h"
#include "agent/runtimes/apptainer_runtime.h"
#include "agent/runtimes/docker_runtime.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

bool Contains(const std::vector<std::string>& argv, const std::vector<std::string>& seq) {
  return std::search(argv.begin(), argv.end(), seq.begin(), seq.end()) != argv.end();
}

Cube HelloCube() {
  Cube cube;
  cube.name = "hello";
  cube.root = "/state/cubes/uid-1/hello";
  cube.workspace = cube.root + "/workspace";
  cube.docker.image = "mlcube/hello:0.1";
  cube.docker.build_context = cube.root + "/build";
  cube.docker.build_file = "Dockerfile";
  cube.singularity.image = "hello-0.1.sif";
  return cube;
}

TaskInvocation GreetInvocation() {
  TaskInvocation inv;
  inv.task = "greet";
  inv.args = {"greet", "--name_file=/mlcube_io0/names.txt", "--output_dir=/mlcube_io1"};
  inv.mounts = {{"/ws", "/mlcube_io0", true}, {"/ws/greetings", "/mlcube_io1", false}};
  return inv;
}

TEST(DockerRuntimeTest, RunIsANamedContainerAsTheAgentUserWithMountsEnvAndGpus) {
  DockerRuntime docker("docker", "/usr/bin/docker");
  StepContext context;
  context.job_id = "0badcafe";
  context.step = 1;
  context.uid = 1001;
  context.gid = 1002;
  context.env = {{"A", "b c"}, {"CR", "ends in\r"}};
  context.gpus = "device=0,1";
  char tmpl[] = "/tmp/docker-runtime-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  context.job_dir = tmpl;
  context.step_prefix = context.job_dir + "/step-1";
  auto command = docker.TaskCommand(HelloCube(), GreetInvocation(), context);
  ASSERT_TRUE(command.ok()) << command.status();
  const auto& a = command->argv;
  EXPECT_EQ(command->container_name, "mlcube-0badcafe-1");
  EXPECT_TRUE(Contains(a, {"--name", "mlcube-0badcafe-1"}));
  EXPECT_TRUE(Contains(a, {"--user", "1001:1002"}));
  EXPECT_TRUE(Contains(a, {"--volume", "/ws:/mlcube_io0:ro"}));
  EXPECT_TRUE(Contains(a, {"--volume", "/ws/greetings:/mlcube_io1"}));
  // Env values travel in a 0600 file, never in argv.
  ASSERT_TRUE(Contains(a, {"--env-file", context.job_dir + "/step-1.env"}));
  std::ifstream env_file(context.job_dir + "/step-1.env");
  std::stringstream env_text;
  env_text << env_file.rdbuf();
  EXPECT_NE(env_text.str().find("A=b c\n"), std::string::npos) << env_text.str();
  // The env file's reader drops a carriage return before a line end.
  EXPECT_EQ(env_text.str().find("CR="), std::string::npos) << env_text.str();
  EXPECT_TRUE(Contains(a, {"--env", "CR=ends in\r"}));
  for (const std::string& arg : a) EXPECT_EQ(arg.find("b c"), std::string::npos) << arg;
  (void)!system(("rm -rf " + context.job_dir).c_str());
  EXPECT_TRUE(Contains(a, {"--gpus", "\"device=0,1\""}));
  EXPECT_TRUE(Contains(a, {"mlcube/hello:0.1", "greet", "--name_file=/mlcube_io0/names.txt",
                           "--output_dir=/mlcube_io1"}));
}

TEST(DockerRuntimeTest, ExtraRunArgumentsThatExposeTheHostAreRefused) {
  DockerRuntime docker("docker", "/usr/bin/docker");
  Cube cube = HelloCube();
  cube.docker.env_args = "--shm-size=1g -v /:/host";
  auto command = docker.TaskCommand(cube, GreetInvocation(), StepContext{});
  EXPECT_EQ(command.status().code(), absl::StatusCode::kInvalidArgument);
  cube.docker.env_args = "--privileged";
  EXPECT_FALSE(docker.TaskCommand(cube, GreetInvocation(), StepContext{}).ok());
  cube.docker.env_args = "--shm-size=1g";
  EXPECT_TRUE(docker.TaskCommand(cube, GreetInvocation(), StepContext{}).ok());
}

// MLCube runs on the caller's machine, so `-e NAME` in a cube copies the
// caller's NAME: the agent passes the value the caller sent through the env
// file (never argv), and never lets docker read the agent's own NAME.
TEST(DockerRuntimeTest, VariablesCopiedFromTheCallerGoToTheEnvFileOnly) {
  struct Case {
    const char* cpu_args;
    const char* env_args;
    std::map<std::string, std::string> caller_env;
    const char* file_has;           // a line the env file must hold ("" none)
    const char* shown;              // StepCommand::shown_env, joined
    std::vector<std::string> kept;  // what stays of the cube's arguments
  };
  const Case cases[] = {
      {"-e HF_TOKEN",
       "",
       {{"HF_TOKEN", "hf_secret"}},
       "HF_TOKEN=hf_secret\n",
       "HF_TOKEN=<from your environment>",
       {}},
      {"--shm-size=1g",
       "--env=WANDB_KEY",
       {{"WANDB_KEY", "w s"}},
       "WANDB_KEY=w s\n",
       "WANDB_KEY=<from your environment>",
       {"--shm-size=1g"}},
      {"--env HF_TOKEN --ipc=private",
       "",
       {},
       "",
       "HF_TOKEN (not set in your environment: left out)",
       {"--ipc=private"}},
      {"-e A=1", "", {{"A", "caller"}}, "", "", {"-e", "A=1"}},
  };
  for (const Case& c : cases) {
    ::mlcube::testing::TempDir dir;
    DockerRuntime docker("docker", "/usr/bin/docker");
    Cube cube = HelloCube();
    cube.docker.cpu_args = c.cpu_args;
    cube.docker.env_args = c.env_args;
    StepContext context;
    context.job_id = "0badcafe";
    context.job_dir = dir.path();
    context.step_prefix = dir.path() + "/step-0";
    context.caller_env = c.caller_env;
    auto command = docker.TaskCommand(cube, GreetInvocation(), context);
    ASSERT_TRUE(command.ok()) << c.cpu_args << ": " << command.status();
    const auto& a = command->argv;
    for (const auto& [name, value] : c.caller_env) {
      for (const std::string& arg : a) EXPECT_EQ(arg.find(value), std::string::npos) << arg;
    }
    // Docker never gets a bare name, which it would look up in the
    // agent's environment.
    for (size_t i = 0; i + 1 < a.size(); ++i) {
      if (a[i] == "-e" || a[i] == "--env") {
        EXPECT_NE(a[i + 1].find('='), std::string::npos) << c.cpu_args;
      }
      EXPECT_FALSE(absl::StartsWith(a[i], "--env=") && a[i].find('=', 6) == std::string::npos);
    }
    for (const std::string& kept : c.kept) EXPECT_TRUE(Contains(a, {kept})) << kept;
    std::ifstream env_file(context.step_prefix + ".env");
    std::stringstream env_text;
    env_text << env_file.rdbuf();
    if (*c.file_has != '\0') {
      EXPECT_NE(env_text.str().find(c.file_has), std::string::npos) << env_text.str();
    }
    EXPECT_EQ(absl::StrJoin(command->shown_env, " "), c.shown) << c.cpu_args;
  }
}

TEST(DockerRuntimeTest, CopiedVariablesLostInARestartOrWithLineBreaksFailTheTask) {
  ::mlcube::testing::TempDir dir;
  DockerRuntime docker("docker", "/usr/bin/docker");
  Cube cube = HelloCube();
  cube.docker.cpu_args = "-e HF_TOKEN";
  StepContext context;
  context.job_dir = dir.path();
  context.step_prefix = dir.path() + "/step-0";
  context.caller_env_withheld = {"HF_TOKEN"};
  auto lost = docker.TaskCommand(cube, GreetInvocation(), context);
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(lost.status().message()),
              ::testing::HasSubstr("docker.cpu_args copies HF_TOKEN from your environment"));
  context.caller_env_withheld.clear();
  context.caller_env = {{"HF_TOKEN", "two\nlines"}};
  auto multiline = docker.TaskCommand(cube, GreetInvocation(), context);
  EXPECT_EQ(multiline.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(multiline.status().message().find("two"), std::string::npos);
  // A copy inside a group of short options is refused at submit.
  cube.docker.cpu_args = "-te HF_TOKEN";
  EXPECT_EQ(docker.CheckCube(cube, StepContext{}).code(), absl::StatusCode::kInvalidArgument);
}

TEST(OwnerImageTagTest, EachIdentityHasItsOwnValidTag) {
  const std::string alice = OwnerImageTag("cn-alice", "mlcube/hello:0.1");
  EXPECT_EQ(alice.rfind("mlcube-local/cn-alice:mlcube_hello_0.1-", 0), 0u) << alice;
  EXPECT_NE(alice, OwnerImageTag("cn-bob", "mlcube/hello:0.1"));
  // Owners differing only in case or punctuation, images differing only in
  // separators: still apart.
  EXPECT_NE(OwnerImageTag("cn-Alice", "x"), OwnerImageTag("cn-alice", "x"));
  EXPECT_NE(OwnerImageTag("cn-a.b", "x"), OwnerImageTag("cn-a@b", "x"));
  EXPECT_NE(OwnerImageTag("u", "a/b:c"), OwnerImageTag("u", "a_b:c"));
  // Docker's grammar: lowercase repository, tag of [A-Za-z0-9_.-]{1,128}.
  const std::string odd = OwnerImageTag("cn-Bob@Example.ORG", std::string(300, '/') + "Img:Tag");
  const std::string repo = odd.substr(0, odd.find(':'));
  const std::string tag = odd.substr(odd.find(':') + 1);
  for (char c : repo) EXPECT_TRUE(islower(c) || isdigit(c) || c == '-' || c == '/') << odd;
  EXPECT_LE(tag.size(), 128u);
  for (char c : tag) EXPECT_TRUE(isalnum(c) || c == '_' || c == '.' || c == '-') << odd;
}

TEST(OwnerImageTagTest, CubesMayNotNameTheAgentsBuilds) {
  EXPECT_TRUE(CheckCubeImageName("mlcube/hello:0.1", "docker.image").ok());
  EXPECT_FALSE(CheckCubeImageName("mlcube-local/cn-bob:x-1234", "docker.image").ok());
  EXPECT_FALSE(CheckCubeImageName("docker.io/mlcube-local/cn-bob:x", "docker.image").ok());
  DockerRuntime docker("docker", "/usr/bin/docker");
  Cube cube = HelloCube();
  cube.docker.image = "mlcube-local/cn-bob:mlcube_hello_0.1-deadbeef";
  std::string notes;
  EXPECT_EQ(docker.ConfigureCommand(cube, StepContext{}, &notes).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(docker.TaskCommand(cube, GreetInvocation(), StepContext{}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DockerRuntimeTest, ConfigurePullsWhenThereIsNoRecipeAndBuildsOtherwise) {
  DockerRuntime docker("docker", "/usr/bin/docker");
  Cube cube = HelloCube();
  cube.docker.build_strategy = BuildStrategy::kAuto;
  std::string notes;
  auto pull = docker.ConfigureCommand(cube, StepContext{}, &notes);
  ASSERT_TRUE(pull.ok());
  EXPECT_EQ(pull->argv, (std::vector<std::string>{"/usr/bin/docker", "pull", "mlcube/hello:0.1"}));
  EXPECT_NE(notes.find("no recipe"), std::string::npos);

  char tmpl[] = "/tmp/docker-runtime-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  cube.root = tmpl;
  cube.docker.build_context = tmpl;
  cube.docker.build_strategy = BuildStrategy::kAuto;
  std::ofstream(std::string(tmpl) + "/Dockerfile") << "FROM scratch\n";
  StepContext context;
  context.env = {{"GREETING", "hi"}};
  context.owner = "uid-1000";
  context.step_prefix = std::string(tmpl) + "/step-0";
  auto build = docker.ConfigureCommand(cube, context, &notes);
  ASSERT_TRUE(build.ok()) << build.status();
  // Built under the identity's own tag, which the task then runs, from the
  // copy of the recipe that was read beneath the build context.
  const std::string tag = OwnerImageTag("uid-1000", "mlcube/hello:0.1");
  EXPECT_TRUE(Contains(build->argv, {"build", "--force-rm", "-t", tag, "-f",
                                     std::string(tmpl) + "/step-0.Dockerfile"}));
  std::ifstream copy(std::string(tmpl) + "/step-0.Dockerfile");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(copy), {}), "FROM scratch\n");
  EXPECT_EQ(docker.ImageFor(cube, context), tag);
  auto run = docker.TaskCommand(cube, GreetInvocation(), context);
  ASSERT_TRUE(run.ok());
  EXPECT_TRUE(Contains(run->argv, {tag, "greet"}));
  EXPECT_TRUE(Contains(build->argv, {"--build-arg", "GREETING=hi"}));
  EXPECT_EQ(build->argv.back(), tmpl);
  cube.docker.build_strategy = BuildStrategy::kPull;
  EXPECT_EQ(docker.ConfigureCommand(cube, context, &notes)->argv[1], "pull");
  (void)!system((std::string("rm -rf ") + tmpl).c_str());
}

// A task is followed through the engine's API only where an engine answers on
// the socket; else under the attached client, and a dry run never is.
TEST(DockerRuntimeTest, TheApiSocketIsUsedOnlyWhereAnEngineAnswersOnIt) {
  EngineHost host;
  host.api_socket = "/nonexistent/docker.sock";
  DockerRuntime docker("docker", "/usr/bin/docker", "", host);
  char tmpl[] = "/tmp/docker-runtime-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  for (bool dry_run : {false, true}) {
    StepContext context;
    context.dry_run = dry_run;
    context.job_dir = tmpl;
    context.step_prefix = context.job_dir + "/step-1";
    auto command = docker.TaskCommand(HelloCube(), GreetInvocation(), context);
    ASSERT_TRUE(command.ok()) << command.status();
    EXPECT_EQ(command->engine_socket, "") << "dry run: " << dry_run;
    EXPECT_EQ(command->argv[1], "run");  // shown as the run it stands for
  }
  std::filesystem::remove_all(tmpl);
  EXPECT_EQ(EngineFollowsCreatedContainers(host.api_socket).status().code(),
            absl::StatusCode::kUnavailable);
}

// Rootless Podman: the agent's uid is mapped to itself (keep-id), GPUs are
// CDI devices, registry images are pulled by their full name; without a usable
// /dev/net/tun the task and the build run without network, and say so.
TEST(PodmanRuntimeTest, RootlessRunKeepsTheAgentsUidAndNamesGpusAsCdiDevices) {
  DockerRuntime podman("podman", "/usr/bin/podman", "", EngineHost{true, false, false, ""});
  StepContext context;
  context.job_id = "0badcafe";
  context.uid = 1001;
  context.gid = 1001;
  context.gpus = "device=GPU-aa,GPU-bb";
  context.dry_run = true;
  context.step_prefix = "/nonexistent/step-0";
  Cube cube = HelloCube();
  cube.docker.build_strategy = BuildStrategy::kPull;
  auto run = podman.TaskCommand(cube, GreetInvocation(), context);
  ASSERT_TRUE(run.ok()) << run.status();
  const auto& a = run->argv;
  EXPECT_TRUE(Contains(a, {"--user", "1001:1001", "--userns=keep-id", "--network=none"}));
  EXPECT_TRUE(
      Contains(a, {"--device", "nvidia.com/gpu=GPU-aa", "--device", "nvidia.com/gpu=GPU-bb"}));
  EXPECT_TRUE(std::find(a.begin(), a.end(), "--gpus") == a.end());
  // Run by the name as given: Podman finds the pulled image by its short name.
  EXPECT_TRUE(Contains(a, {"mlcube/hello:0.1", "greet"}));
  ASSERT_EQ(run->notes.size(), 1u);
  EXPECT_THAT(run->notes[0], ::testing::HasSubstr("/dev/net/tun"));
  std::string notes;
  auto pull = podman.ConfigureCommand(cube, context, &notes);
  ASSERT_TRUE(pull.ok());
  EXPECT_EQ(pull->argv,
            (std::vector<std::string>{"/usr/bin/podman", "pull", "docker.io/mlcube/hello:0.1"}));

  // Rootful with a network: nothing of the above but the devices.
  DockerRuntime rootful("podman", "/usr/bin/podman", "", EngineHost{false, true, false, ""});
  auto plain = rootful.TaskCommand(cube, GreetInvocation(), context);
  ASSERT_TRUE(plain.ok());
  for (const std::string& arg : plain->argv) {
    EXPECT_NE(arg, "--userns=keep-id");
    EXPECT_NE(arg, "--network=none");
  }
  EXPECT_TRUE(plain->notes.empty());
}

TEST(PodmanRuntimeTest, CdiDevicesFollowDockersGpusValues) {
  using V = std::vector<std::string>;
  EXPECT_EQ(PodmanCdiDevices("", {}), V{});
  EXPECT_EQ(PodmanCdiDevices("all", {}), V{"nvidia.com/gpu=all"});
  EXPECT_EQ(PodmanCdiDevices("2", {}), (V{"nvidia.com/gpu=0", "nvidia.com/gpu=1"}));
  EXPECT_EQ(PodmanCdiDevices("\"device=1,3\"", {}), (V{"nvidia.com/gpu=1", "nvidia.com/gpu=3"}));
  // Devices the agent allocated go by index, whatever the spec says.
  GpuDevice second;
  second.index = 2;
  second.uuid = "GPU-2";
  EXPECT_EQ(PodmanCdiDevices("device=GPU-2", {second}), V{"nvidia.com/gpu=2"});
}

// docker.build_file=../../../cn-bob/... printed bob's Dockerfile into the
// attacker's build log: the recipe must lie beneath the build context.
TEST(DockerRuntimeTest, ABuildFileOutsideTheBuildContextIsRefused) {
  DockerRuntime docker("docker", "/usr/bin/docker");
  char tmpl[] = "/tmp/docker-runtime-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  ASSERT_EQ(mkdir((root + "/alice").c_str(), 0700), 0);
  ASSERT_EQ(mkdir((root + "/alice/build").c_str(), 0700), 0);
  ASSERT_EQ(mkdir((root + "/bob").c_str(), 0700), 0);
  std::ofstream(root + "/bob/Dockerfile") << "FROM bob-secret\n";
  ASSERT_EQ(symlink("../../bob/Dockerfile", (root + "/alice/build/Linked").c_str()), 0);
  Cube cube = HelloCube();
  cube.root = root + "/alice";
  cube.docker.build_context = cube.root + "/build";
  cube.docker.build_strategy = BuildStrategy::kAlways;
  StepContext context;
  context.owner = "cn-alice";
  context.step_prefix = root + "/step-0";
  std::string notes;
  for (const std::string& file :
       {std::string("../../bob/Dockerfile"), std::string("Linked"), root + "/bob/Dockerfile"}) {
    cube.docker.build_file = file;
    absl::Status checked = docker.CheckCube(cube, context);
    EXPECT_EQ(checked.code(), absl::StatusCode::kInvalidArgument) << file;
    EXPECT_NE(std::string(checked.message()).find("docker.build_file: '"), std::string::npos)
        << checked;
    auto configure = docker.ConfigureCommand(cube, context, &notes);
    EXPECT_EQ(configure.status().code(), absl::StatusCode::kInvalidArgument) << file;
  }
  EXPECT_EQ(access((root + "/step-0.Dockerfile").c_str(), F_OK), -1);
  (void)!system(("rm -rf " + root).c_str());
}

TEST(ApptainerRuntimeTest, RunBindsMountsPassesEnvByPrefixAndChecksTheSif) {
  char tmpl[] = "/tmp/apptainer-runtime-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  ApptainerRuntime apptainer("apptainer", "/usr/bin/apptainer", "");
  StepContext context;
  context.job_id = "0badcafe";
  context.image_dir = tmpl;
  context.job_dir = tmpl;
  context.scratch_dir = context.job_dir + "/tmp";
  context.env = {{"A", "b"}};
  context.gpus = "all";
  Cube cube = HelloCube();
  const std::string sif = std::string(tmpl) + "/hello-0.1.sif";
  EXPECT_EQ(ApptainerRuntime::SifPath(cube, context), sif);
  // Not a SIF yet: the task cannot run, configure is needed.
  std::ofstream(sif) << std::string(64, 'x');
  EXPECT_FALSE(IsSifFile(sif));
  EXPECT_TRUE(apptainer.NeedsConfigure(cube, context));
  EXPECT_FALSE(apptainer.TaskCommand(cube, GreetInvocation(), context).ok());
  std::string header(32, '\0');
  header += "SIF_MAGIC";
  header += std::string(32, '\0');
  std::ofstream(sif, std::ios::trunc) << header;
  EXPECT_TRUE(IsSifFile(sif));
  EXPECT_FALSE(apptainer.NeedsConfigure(cube, context));
  auto command = apptainer.TaskCommand(cube, GreetInvocation(), context);
  ASSERT_TRUE(command.ok()) << command.status();
  const auto& a = command->argv;
  EXPECT_TRUE(Contains(a, {"/usr/bin/apptainer", "-q", "run", "--contain", "--cleanenv", "--pid"}));
  EXPECT_TRUE(Contains(a, {"--bind", "/ws:/mlcube_io0:ro"}));
  EXPECT_TRUE(Contains(a, {"--nv"}));
  EXPECT_TRUE(Contains(a, {sif, "greet", "--name_file=/mlcube_io0/names.txt"}));
  EXPECT_EQ(command->env.at("APPTAINERENV_A"), "b");
  EXPECT_EQ(command->cwd, cube.workspace);

  // Without --gpus the cube's own accelerator_count asks for --nv.
  StepContext cpu_only = context;
  cpu_only.gpus.clear();
  auto no_gpus = apptainer.TaskCommand(cube, GreetInvocation(), cpu_only);
  ASSERT_TRUE(no_gpus.ok()) << no_gpus.status();
  EXPECT_FALSE(Contains(no_gpus->argv, {"--nv"}));
  Cube accelerated = cube;
  accelerated.accelerator_count = 1;
  auto with_count = apptainer.TaskCommand(accelerated, GreetInvocation(), cpu_only);
  ASSERT_TRUE(with_count.ok()) << with_count.status();
  EXPECT_TRUE(Contains(with_count->argv, {"--nv"}));

  Cube binding = cube;
  binding.singularity.run_args = "--nv --bind /:/host";
  EXPECT_EQ(apptainer.TaskCommand(binding, GreetInvocation(), context).status().code(),
            absl::StatusCode::kInvalidArgument);

  ApptainerRuntime singularity("singularity", "/usr/bin/singularity", "");
  TaskInvocation with_entry = GreetInvocation();
  with_entry.entrypoint = "/bin/sh /hello.sh";
  auto exec = singularity.TaskCommand(cube, with_entry, context);
  ASSERT_TRUE(exec.ok());
  EXPECT_TRUE(Contains(exec->argv, {"exec"}));
  EXPECT_TRUE(Contains(exec->argv, {sif, "/bin/sh", "/hello.sh", "greet"}));
  EXPECT_EQ(exec->env.at("SINGULARITYENV_A"), "b");

  // `--env NAME` copies the caller's NAME: by the runtime's environment,
  // never argv, and never the agent's own (--cleanenv).
  Cube copying = cube;
  copying.singularity.run_args = "--env HF_TOKEN";
  StepContext with_caller = context;
  with_caller.caller_env = {{"HF_TOKEN", "hf_secret"}};
  auto copied = apptainer.TaskCommand(copying, GreetInvocation(), with_caller);
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_EQ(copied->env.at("APPTAINERENV_HF_TOKEN"), "hf_secret");
  EXPECT_FALSE(Contains(copied->argv, {"--env"}));
  for (const std::string& arg : copied->argv) EXPECT_EQ(arg.find("HF_TOKEN"), std::string::npos);
  EXPECT_EQ(copied->shown_env, std::vector<std::string>{"HF_TOKEN=<from your environment>"});
  (void)!system((std::string("rm -rf ") + tmpl).c_str());
}

TEST(ApptainerRuntimeTest, ConfigureNeedsARecipeOrAnImageToConvert) {
  ApptainerRuntime apptainer("apptainer", "/usr/bin/apptainer", "");
  StepContext context;
  context.job_id = "0badcafe";
  context.image_dir = "/images";
  context.job_dir = "/tmp";
  context.scratch_dir = context.job_dir + "/tmp";
  Cube cube = HelloCube();
  cube.singularity.build_context = cube.root + "/nonexistent";
  cube.singularity.build_file = "Singularity.recipe";
  std::string notes;
  auto from_docker = apptainer.ConfigureCommand(cube, context, &notes);
  ASSERT_TRUE(from_docker.ok());
  EXPECT_EQ(from_docker->argv.back(), "docker://mlcube/hello:0.1");
  EXPECT_EQ(from_docker->argv[from_docker->argv.size() - 2],
            "/images/hello-0.1.sif.build-0badcafe");
  cube.docker.image.clear();
  auto nothing = apptainer.ConfigureCommand(cube, context, &notes);
  EXPECT_EQ(nothing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(nothing.status().message()).find("no Singularity recipe"),
            std::string::npos);
}

// A recipe that would run on the host or copy host files in is refused
// before anything runs; a clean one is built from a checked copy.
TEST(ApptainerRuntimeTest, RecipesAreCheckedAndBuiltFromTheCheckedCopy) {
  char tmpl[] = "/tmp/apptainer-runtime-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  ASSERT_EQ(mkdir((root + "/build").c_str(), 0700), 0);
  ApptainerRuntime apptainer("apptainer", "/usr/bin/apptainer", "");
  Cube cube = HelloCube();
  cube.root = root;
  cube.singularity.build_context = root + "/build";
  cube.singularity.build_file = "Singularity.recipe";
  StepContext context;
  context.job_id = "0badcafe";
  context.image_dir = root;
  context.job_dir = root;
  context.scratch_dir = root + "/tmp";
  context.step_prefix = root + "/step-0";
  std::string notes;
  std::ofstream(root + "/build/Singularity.recipe")
      << "Bootstrap: scratch\n%setup\n  cat /etc/shadow\n";
  absl::Status checked = apptainer.CheckCube(cube, context);
  EXPECT_EQ(checked.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(checked.message()).find("Singularity.recipe line 2: %setup"),
            std::string::npos)
      << checked;
  EXPECT_EQ(apptainer.ConfigureCommand(cube, context, &notes).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::ofstream(root + "/build/Singularity.recipe", std::ios::trunc)
      << "Bootstrap: scratch\n%files\n  /etc/shadow /s\n";
  EXPECT_EQ(apptainer.ConfigureCommand(cube, context, &notes).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::string good = "Bootstrap: scratch\n%files\n  Singularity.recipe /r\n";
  std::ofstream(root + "/build/Singularity.recipe", std::ios::trunc) << good;
  EXPECT_TRUE(apptainer.CheckCube(cube, context).ok());
  auto build = apptainer.ConfigureCommand(cube, context, &notes);
  ASSERT_TRUE(build.ok()) << build.status();
  EXPECT_EQ(build->argv.back(), root + "/step-0.def");
  EXPECT_EQ(build->cwd, root + "/build");
  std::ifstream copy(root + "/step-0.def");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(copy), {}), good);
  (void)!system(("rm -rf " + root).c_str());
}

}  // namespace
}  // namespace mlcube

namespace mlcube {
namespace {

// Refused at submit, before the cube gets a job: the extra arguments the
// run would use, and the build's.
TEST(ContainerRuntimeCheckCubeTest, ExtraArgumentsAreCheckedAtSubmit) {
  DockerRuntime docker("docker", "/usr/bin/docker");
  Cube cube = HelloCube();
  cube.docker.build_strategy = BuildStrategy::kPull;
  StepContext context;
  EXPECT_TRUE(docker.CheckCube(cube, context).ok());
  cube.docker.cpu_args = "-u0 -v/:/host";
  EXPECT_NE(std::string(docker.CheckCube(cube, context).message()).find("docker.cpu_args: "),
            std::string::npos);
  cube.docker.cpu_args.clear();
  cube.docker.env_args = "--env-file /etc/shadow";
  EXPECT_NE(std::string(docker.CheckCube(cube, context).message()).find("docker.env_args: "),
            std::string::npos);
  cube.docker.env_args.clear();
  cube.docker.gpu_args = "--network host";
  EXPECT_TRUE(docker.CheckCube(cube, context).ok()) << "gpu_args are not used without GPUs";
  context.gpus = "all";
  EXPECT_NE(std::string(docker.CheckCube(cube, context).message()).find("docker.gpu_args: "),
            std::string::npos);
  context.host_access.allow_host_network = true;
  EXPECT_TRUE(docker.CheckCube(cube, context).ok()) << "the admin allows it";

  ApptainerRuntime apptainer("apptainer", "/usr/bin/apptainer", "");
  Cube singular = HelloCube();
  StepContext plain;
  singular.singularity.run_args = "-B/etc:/x";
  EXPECT_NE(
      std::string(apptainer.CheckCube(singular, plain).message()).find("singularity.run_args: "),
      std::string::npos);
  singular.singularity.run_args = "-B=/etc";
  EXPECT_FALSE(apptainer.CheckCube(singular, plain).ok());
  singular.singularity.run_args.clear();
  singular.singularity.build_args = "--bind /:/host";
  EXPECT_NE(
      std::string(apptainer.CheckCube(singular, plain).message()).find("singularity.build_args: "),
      std::string::npos);
}

}  // namespace
}  // namespace mlcube

namespace mlcube {
namespace {

// The admin's task limits come after the cube's own arguments (the runtime
// takes the last), so a cube cannot raise them; Apptainer gets them only
// when the admin set them.
TEST(TaskLimitsTest, TheAdminsLimitsComeAfterTheCubesArguments) {
  ::mlcube::testing::TempDir dir;
  StepContext context;
  context.job_id = "0badcafe";
  context.job_dir = dir.path();
  context.step_prefix = dir.path() + "/step-1";
  context.image_dir = dir.path();
  context.scratch_dir = dir.path() + "/tmp";
  context.limits = {64 << 20, 64, false};
  Cube cube = HelloCube();
  cube.docker.cpu_args = "--memory=64g --pids-limit=-1";
  cube.singularity.run_args = "--pids-limit 100000";
  DockerRuntime docker("docker", "/usr/bin/docker");
  auto run = docker.TaskCommand(cube, GreetInvocation(), context);
  ASSERT_TRUE(run.ok()) << run.status();
  const auto& a = run->argv;
  auto at = [&a](const std::string& arg) { return std::find(a.begin(), a.end(), arg) - a.begin(); };
  EXPECT_LT(at("--memory=64g"), at("--memory=67108864"));
  EXPECT_LT(at("--pids-limit=-1"), at("--pids-limit=64"));
  EXPECT_LT(at("--memory-swap=67108864"), static_cast<long>(a.size()));
  std::string header(32, '\0');
  std::ofstream(dir.path() + "/hello-0.1.sif") << header << "SIF_MAGIC" << std::string(32, '\0');
  ApptainerRuntime apptainer("apptainer", "/usr/bin/apptainer", "");
  auto unset = apptainer.TaskCommand(cube, GreetInvocation(), context);
  ASSERT_TRUE(unset.ok()) << unset.status();
  EXPECT_FALSE(Contains(unset->argv, {"--pids-limit", "64"}));
  context.limits.apptainer = true;
  auto set = apptainer.TaskCommand(cube, GreetInvocation(), context);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(Contains(set->argv,
                       {"--pids-limit", "100000", "--memory", "67108864", "--pids-limit", "64"}));
}

}  // namespace
}  // namespace mlcube
