// Patterns of newer real cubes, end to end through `mlcube-remote` and a
// real agent (as the unprivileged `mlcube` user) with real Docker: what
// the task sees, and what the host shows of it.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/integration/agent_process.h"
#include "tests/integration/hello_cube_fixture.h"
#include "tests/integration/two_identity_agent.h"
#include "tests/support/command_runner.h"
#include "tests/support/hello_cube.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_until.h"

namespace mlcube {
namespace {

using ::mlcube::testing::BackgroundCommand;
using ::mlcube::testing::CommandResult;
using ::mlcube::testing::ReadFileContent;
using ::mlcube_test::Shell;
using ::testing::HasSubstr;
using ::testing::Not;

using CubePatternsTest = ::mlcube_test::HelloCubeTest;

// Replaces the first `from` in the file at `path` by `to`; fails the test
// when `from` is not there.
void Edit(const std::string& path, const std::string& from, const std::string& to) {
  std::string text = ReadFileContent(path);
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << path << " has no `" << from << "`";
  text.replace(at, from.size(), to);
  std::ofstream(path, std::ios::trunc) << text;
}

// A Hugging Face cube's `-e HF_TOKEN`: MLCube hands the caller's token to
// the task. The task prints it; while it runs, no process's command line on
// the host holds it, and neither do the job's records nor its log.
TEST_F(CubePatternsTest, AVariableCopiedFromTheCallerReachesTheTaskAndNothingElse) {
  const std::string cube = dir_.path() + "/hello";
  ASSERT_TRUE(::mlcube::testing::AddGreetGates(cube));
  Edit(cube + "/mlcube.yaml", "image: mlcube/hello-gated:0.1",
       "image: mlcube/hello-copyenv:0.1\n  cpu_args: -e HF_TOKEN");
  // Rebuilt whatever an earlier run of this test left under that name.
  Edit(cube + "/mlcube.yaml", "build_strategy: auto", "build_strategy: always");
  Edit(cube + "/build/hello.sh", "  delay=${GREET_DELAY:-0.3}\n",
       "  delay=${GREET_DELAY:-0.3}\n  echo \"token=$(echo \"${HF_TOKEN:-unset}\" | tr a-z "
       "A-Z)\"\n");
  dir_.WriteFile("hosts.yaml", "default_host: local\nhosts:\n  local:\n    address: unix://" +
                                   agent_->socket_path() +
                                   "\n    runtime: docker\n    env: {GREET_DELAY: '0', "
                                   "GREET_GATE: /mlcube_io0/go}\n");
  // The task prints it in upper case: the log is the task's own output.
  const std::string secret = "hf_cubes2_" + std::to_string(getpid()) + "_secret";
  std::string shown = secret;
  for (char& c : shown) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));

  // --dry-run shows where the value comes from, never the value.
  CommandResult plan = ::mlcube::testing::RunCommand(
      Argv({"run", Cube(), "--task=greet", "--dry-run", "--json"}),
      {"NO_COLOR=1", "HOME=" + dir_.path(), "HF_TOKEN=" + secret}, 120);
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_THAT(plan.out, HasSubstr("\"HF_TOKEN=\\u003cfrom your environment\\u003e\""));
  EXPECT_THAT(plan.out + plan.err, Not(HasSubstr(secret)));

  BackgroundCommand run(Argv({"run", Cube(), "--task=greet"}),
                        {"NO_COLOR=1", "HOME=" + dir_.path(), "HF_TOKEN=" + secret});
  ASSERT_TRUE(::mlcube::testing::WaitUntil(
      [&] { return run.OutputSoFar().find("Hello, Alice!") != std::string::npos; }, 120))
      << run.OutputSoFar() << "\nagent:\n"
      << agent_->Stderr();
  EXPECT_THAT(run.OutputSoFar(), HasSubstr("token=" + shown + "\n"));
  // The task is running: every command line on the host, the agent's job
  // directories (records, log, plan) and its stderr.
  std::string processes;
  ASSERT_EQ(Shell("ps -eo args", &processes), 0);
  EXPECT_THAT(processes, HasSubstr("hello-copyenv"));  // the task's docker run is listed
  EXPECT_THAT(processes, Not(HasSubstr(secret)));
  const std::string jobs = agent_->state_dir() + "/jobs";
  EXPECT_NE(Shell("grep -r -l -a -F " + secret + " " + jobs + " --exclude='*.env'"), 0)
      << "the value is written in a job file";
  // The cube's copy on the agent (its id is the name and a hash of the path).
  std::string workspace;
  ASSERT_EQ(Shell("ls -d " + agent_->state_dir() + "/cubes/uid-" + std::to_string(getuid()) +
                      "/hello-*/workspace",
                  &workspace),
            0);
  workspace = workspace.substr(0, workspace.find('\n'));
  for (const char* gate : {"/go1", "/go2", "/go3"}) ::mlcube::testing::OpenGate(workspace + gate);
  CommandResult done = run.Wait(120);
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_THAT(done.err, Not(HasSubstr(secret)));
  // Once the job is over, nothing of it holds the value (env files too).
  EXPECT_NE(Shell("grep -r -l -a -F " + secret + " " + jobs), 0);
  EXPECT_THAT(agent_->Stderr(), Not(HasSubstr(secret)));
  std::string ids;
  ASSERT_EQ(Shell("ls " + jobs, &ids), 0);
  const std::string id = ids.substr(0, ids.find('\n'));
  CommandResult log = Cli({"logs", "--host=local", id});
  EXPECT_THAT(log.err, HasSubstr("HF_TOKEN=<from your environment>"));
  EXPECT_THAT(log.out + log.err, Not(HasSubstr(secret)));
  CommandResult status = Cli({"status", "--host=local", id});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out + status.err, Not(HasSubstr(secret)));

  // Not set on the laptop: a warning naming it, and the task starts without.
  WriteHosts("docker", "1");
  CommandResult unset = Cli({"run", Cube(), "--task=greet"});
  ASSERT_EQ(unset.exit_code, 0) << unset.err;
  EXPECT_THAT(unset.err, HasSubstr("copies HF_TOKEN from your environment"));
  EXPECT_THAT(unset.out, HasSubstr("token=UNSET\n"));
}

// The same with Apptainer: `--env HF_TOKEN` in singularity.run_args. The
// value reaches the task through the runtime's own environment
// (APPTAINERENV_HF_TOKEN), never its command line.
TEST_F(CubePatternsTest, AVariableCopiedFromTheCallerReachesAnApptainerTask) {
  const std::string cube = dir_.path() + "/hello";
  Edit(cube + "/mlcube.yaml", "  build_file: Singularity.recipe",
       "  build_file: Singularity.recipe\n  run_args: --env HF_TOKEN");
  Edit(cube + "/build/hello.sh", "  delay=${GREET_DELAY:-0.3}\n",
       "  delay=${GREET_DELAY:-0.3}\n  echo \"token=$(echo \"${HF_TOKEN:-unset}\" | tr a-z "
       "A-Z)\"\n");
  WriteHosts("singularity");
  const std::string secret = "hf_cubes2_apptainer_" + std::to_string(getpid());
  std::string shown = secret;
  for (char& c : shown) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  CommandResult run = ::mlcube::testing::RunCommand(
      Argv({"run", Cube(), "--task=greet"}),
      {"NO_COLOR=1", "HOME=" + dir_.path(), "HF_TOKEN=" + secret}, 300);
  ASSERT_EQ(run.exit_code, 0) << run.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(run.out, HasSubstr("token=" + shown + "\n"));
  EXPECT_THAT(run.err, HasSubstr("HF_TOKEN=<from your environment>"));
  EXPECT_THAT(run.out + run.err, Not(HasSubstr(secret)));
  EXPECT_NE(Shell("grep -r -l -a -F " + secret + " " + agent_->state_dir() + "/jobs"), 0);
}

// `FROM ${BASE}` with `ARG BASE=...`, as newer cubes name their base
// image: the agent checks the image the build really uses and builds it;
// the same Dockerfile with BASE pointing at another identity's build (by
// -P docker.build_args.BASE) is refused before anything moves.
TEST_F(CubePatternsTest, AnImageNamedByABuildArgumentIsResolvedCheckedAndBuilt) {
  const std::string cube = dir_.path() + "/hello";
  const std::string build = cube + "/build";
  // The base image, on the host under a registry-style name.
  dir_.WriteFile("base/Dockerfile",
                 "FROM scratch\nCOPY busybox /bin/busybox\n"
                 "RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
                 "RUN mkdir -p /tmp /etc && chmod 1777 /tmp\n");
  ASSERT_EQ(Shell("cp " + build + "/busybox " + dir_.path() + "/base/ && docker build -q -t " +
                  "cubes2-busybox:1 " + dir_.path() + "/base >/dev/null"),
            0);
  std::ofstream(build + "/Dockerfile", std::ios::trunc)
      << "ARG REGISTRY_PREFIX\nARG BASE=${REGISTRY_PREFIX}cubes2-busybox:1\nFROM ${BASE}\n"
         "COPY hello.sh /hello.sh\nENTRYPOINT [\"/bin/sh\", \"/hello.sh\"]\n";
  Edit(cube + "/mlcube.yaml", "image: mlcube/hello:0.1", "image: mlcube/hello-fromarg:0.1");
  Edit(cube + "/mlcube.yaml", "build_strategy: auto", "build_strategy: always");

  CommandResult result = Cli({"run", Cube(), "--task=greet"});
  ASSERT_EQ(result.exit_code, 0) << result.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(result.out, HasSubstr("Hello, Charlie!"));
  EXPECT_EQ(ReadFileContent(cube + "/workspace/greetings/Bob.txt"), "Hello, Bob!\n");

  // Another identity's build, by its agent tag: refused, naming the line.
  CommandResult refused =
      Cli({"run", Cube(), "--task=greet", "-P", "docker.build_args.BASE=mlcube-local/cn-bob:x-1"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("docker.build_file: Dockerfile line 3: FROM '${BASE}' = "
                                     "mlcube-local/cn-bob:x-1"));
  EXPECT_THAT(refused.err, HasSubstr("mlcube-local/ namespace"));
}

// A Hugging Face cache as an output (`~/.cache/huggingface/hub`): MLCube
// mounts that host path. The agent's owner (here root calling the agent of
// the unprivileged `mlcube` user: its tasks run as the agent's uid) gets
// it mounted from the agent user's home, created as MLCube creates it;
// nothing of it is pulled into the laptop's workspace.
TEST_F(CubePatternsTest, AHomeCacheOutputIsMountedForTheAgentsOwner) {
  const std::string cube = dir_.path() + "/hello";
  const std::string cache = ".cache/cubes2-hub-" + std::to_string(getpid());
  Edit(cube + "/mlcube.yaml", "output_dir: {type: directory, default: greetings/}",
       "output_dir: {type: directory, default: \"~/" + cache + "\"}");
  const std::string host_dir = "/home/mlcube/" + cache;  // the agent user's home
  CommandResult plan = Cli({"run", Cube(), "--task=greet", "--dry-run"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_THAT(plan.out, HasSubstr("--volume " + host_dir + ":/mlcube_io1"));
  EXPECT_THAT(plan.out, HasSubstr("mkdir -p " + host_dir));

  CommandResult run = Cli({"run", Cube(), "--task=greet"});
  EXPECT_EQ(run.exit_code, 0) << run.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_EQ(ReadFileContent(host_dir + "/Alice.txt"), "Hello, Alice!\n");
  EXPECT_NE(::access((cube + "/workspace/greetings").c_str(), F_OK), 0);
  Shell("rm -rf " + host_dir);
}

// The same cube on a shared agent, by an identity other than its owner
// (alice over mutual TLS, her tasks run as a pool uid): refused at submit,
// naming the parameter and the admin's setting; below an admin's bind root
// the same kind of path is mounted.
TEST(CubePatternsSharedAgentTest, AHomeCacheOutputIsRefusedForOtherIdentities) {
  ASSERT_EQ(::access(MLCUBE_SOURCE_DIR "/examples/hello/build/busybox", X_OK), 0)
      << "run tools/prepare-examples.sh first (copies busybox into examples/hello/build)";
  ASSERT_EQ(Shell("docker info >/dev/null"), 0) << "start Docker: tools/start-docker.sh";
  ::mlcube::testing::TempDir datasets;
  datasets.WriteFile("names/names.txt", "Ada\n");
  ASSERT_EQ(Shell("chmod -R a+rX " + datasets.path()), 0);
  ::mlcube_test::TwoIdentityAgent agents("allow: {bind_roots: [{path: " + datasets.path() + "}]}\n",
                                         "mlcube");
  ASSERT_TRUE(agents.Start());
  const std::string cube = agents.root() + "/hello";
  ASSERT_TRUE(::mlcube::testing::CopyHelloCube(cube));
  Edit(cube + "/mlcube.yaml", "output_dir: {type: directory, default: greetings/}",
       "output_dir: {type: directory, default: \"~/.cache/huggingface/hub\"}");
  CommandResult refused = agents.As("alice", {"run", "--mlcube=" + cube, "--task=greet"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("tasks.greet.parameters.outputs.output_dir: host path '"));
  EXPECT_THAT(refused.err, HasSubstr("only its owner's tasks mount host paths"));
  EXPECT_THAT(refused.err, HasSubstr("`allow.bind_roots`"));
  // An input below the admin's (read-only) bind root is mounted read-only.
  Edit(cube + "/mlcube.yaml", "default: \"~/.cache/huggingface/hub\"", "default: greetings/");
  Edit(cube + "/mlcube.yaml", "name_file: {type: file, default: names.txt, opts: ro}",
       "name_file: {type: file, default: " + datasets.path() + "/names/names.txt, opts: ro}");
  CommandResult plan = agents.As("alice", {"run", "--mlcube=" + cube, "--task=greet", "--dry-run"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_THAT(plan.out, HasSubstr("--volume " + datasets.path() + "/names:/mlcube_io0:ro"));
}

// An input outside the workspace and the cube but inside the cube's
// repository (`../../configs/names.txt`): MLCube mounts it from the
// checkout; here its directory is synced with the cube and the task reads
// the copy. One that leaves the repository is refused before anything
// moves, naming the parameter.
TEST_F(CubePatternsTest, AnInputFromTheCubesRepositoryIsSyncedAndRead) {
  const std::string repo = dir_.path() + "/repo";
  dir_.WriteFile("repo/.git/HEAD", "ref: refs/heads/main\n");
  ASSERT_TRUE(::mlcube::testing::CopyHelloCube(repo + "/cube"));
  dir_.WriteFile("repo/configs/names.txt", "Grace\nLinus\n");
  dir_.WriteFile("repo/configs/.mlcubeignore", "secret.txt\n");
  dir_.WriteFile("repo/configs/secret.txt", "never synced\n");
  const std::string cube = repo + "/cube";
  Edit(cube + "/mlcube.yaml", "name_file: {type: file, default: names.txt, opts: ro}",
       "name_file: {type: file, default: ../../configs/names.txt, opts: ro}");

  CommandResult plan = Cli({"run", "--mlcube=" + cube, "--task=greet", "--dry-run"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(plan.out, HasSubstr(":/mlcube_io0:ro"));
  EXPECT_THAT(plan.out, HasSubstr("--name_file=/mlcube_io0/names.txt"));

  CommandResult run = Cli({"run", "--mlcube=" + cube, "--task=greet"});
  ASSERT_EQ(run.exit_code, 0) << run.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(run.out, HasSubstr("Hello, Grace!\nHello, Linus!\n"));
  EXPECT_EQ(ReadFileContent(cube + "/workspace/greetings/Linus.txt"), "Hello, Linus!\n");
  // The repository tree on the agent holds the inputs, not what its ignore
  // file leaves out.
  std::string found;
  Shell("find " + agent_->state_dir() + "/cubes -name secret.txt", &found);
  EXPECT_EQ(found, "");

  Edit(cube + "/mlcube.yaml", "default: ../../configs/names.txt",
       "default: ../../../elsewhere/names.txt");
  CommandResult refused = Cli({"run", "--mlcube=" + cube, "--task=greet"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err,
              HasSubstr("tasks.greet.parameters.inputs.name_file: "
                        "'../../../elsewhere/names.txt' leaves the cube's repository (" +
                        repo + ")"));
}

}  // namespace
}  // namespace mlcube
