// End-to-end tests with real Podman (tools/start-podman.sh), as users run it:
// - rootless, a per-user agent (as the unprivileged `mlcube` user) with the
//   images in that user's own storage: tasks read their inputs and write
//   outputs owned by the user, exit codes, dry-run, cancel, re-attach after
//   a kill -9 of the agent, sweeps;
// - rootful, a shared agent (as root) with two mutual-TLS identities: each
//   identity's tasks run as its own task uid, as with Docker.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/hello_cube_fixture.h"
#include "tests/integration/two_identity_agent.h"
#include "tests/support/command_runner.h"
#include "tests/support/hello_cube.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_until.h"

namespace mlcube_test {
namespace {

using ::mlcube::testing::BackgroundCommand;
using ::mlcube::testing::CommandResult;
using ::mlcube::testing::CountOccurrences;
using ::mlcube::testing::ReadFileContent;
using ::mlcube::testing::WaitUntil;
using ::testing::HasSubstr;
using ::testing::Not;

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// `podman` run as `user` (empty: root), its output.
std::string PodmanAs(const std::string& user, const std::string& args) {
  std::string out;
  const std::string command = "podman " + args + " 2>&1";
  Shell(user.empty() ? command : "su " + user + " -s /bin/sh -c '" + command + "'", &out);
  return out;
}

void ExpectPodmanInstalled() {
  ASSERT_EQ(Shell("podman --version >/dev/null 2>&1"), 0)
      << "podman is missing: run tools/start-podman.sh (as root)";
}

class PodmanRootlessTest : public HelloCubeTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ExpectPodmanInstalled());
    ASSERT_NO_FATAL_FAILURE(HelloCubeTest::SetUp());
    WriteHosts("podman");
  }

  // The agent's copy of the hello cube's workspace.
  std::string RemoteWorkspace() {
    std::string dir;
    Shell("ls -d " + agent_->state_dir() + "/cubes/uid-*/hello-*/workspace", &dir);
    return FirstLine(dir);
  }
};

TEST_F(PodmanRootlessTest, TasksReadInputsAndWriteOutputsOwnedByTheAgentsUser) {
  CommandResult result = Cli({"run", Cube(), "--task=greet"});
  ASSERT_EQ(result.exit_code, 0) << result.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(result.out, HasSubstr("Hello, Alice!\nHello, Bob!\nHello, Charlie!\n"));
  // The agent's uid is itself inside the container, not the user
  // namespace's root: without that the task reads nothing (Permission denied).
  EXPECT_THAT(result.err, HasSubstr("podman run --rm"));
  EXPECT_THAT(result.err, HasSubstr("--userns=keep-id"));
  EXPECT_EQ(ReadFileContent(Workspace() + "/greetings/Alice.txt"), "Hello, Alice!\n");
  struct stat st;
  const std::string written = RemoteWorkspace() + "/greetings/Alice.txt";
  ASSERT_EQ(stat(written.c_str(), &st), 0) << written;
  EXPECT_EQ(st.st_uid, agent_->uid()) << "owned by a subordinate uid, not the agent's user";
  // The image was built into the agent user's own storage, not root's.
  EXPECT_THAT(PodmanAs("mlcube", "images --format {{.Repository}}"),
              HasSubstr("mlcube-local/uid-0"));
  EXPECT_THAT(PodmanAs("", "images --format {{.Repository}}"),
              Not(HasSubstr("mlcube-local/uid-0")));
}

TEST_F(PodmanRootlessTest, ExitCodesDryRunAndCancelAsWithDocker) {
  CommandResult failed = Cli({"run", Cube(), "--task=fail"});
  EXPECT_EQ(failed.exit_code, 7) << failed.err;
  EXPECT_THAT(failed.err, HasSubstr("fail: this task fails on purpose"));

  CommandResult plan = Cli({"run", Cube(), "--task=greet", "--dry-run"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_THAT(plan.out, HasSubstr("podman run --rm"));
  EXPECT_THAT(plan.out, HasSubstr("--userns=keep-id"));

  WriteHosts("podman", "120");
  CommandResult submitted = Cli({"run", Cube(), "--task=count", "--detach"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string job = FirstLine(submitted.out);
  BackgroundCommand logs(Argv({"logs", "-f", job}), {"NO_COLOR=1", "HOME=" + dir_.path()});
  ASSERT_TRUE(WaitUntil([&] { return logs.OutputSoFar().find("tick 1") != std::string::npos; }, 60))
      << agent_->Stderr();
  CommandResult cancel = Cli({"cancel", job});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Cli({"status", job}).out.find("state: CANCELLED") != std::string::npos;
      },
      60));
  // The container is gone from the user's podman.
  EXPECT_TRUE(WaitUntil(
      [&] { return PodmanAs("mlcube", "ps -a -q --filter name=mlcube-" + job).empty(); }, 30))
      << PodmanAs("mlcube", "ps -a");
}

TEST_F(PodmanRootlessTest, FollowingSurvivesAKill9OfTheAgentWithEveryLineOnce) {
  WriteHosts("podman", "6");
  CommandResult submitted = Cli({"run", Cube(), "--task=count", "--detach"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string job = FirstLine(submitted.out);
  BackgroundCommand logs(Argv({"logs", "-f", job}), {"NO_COLOR=1", "HOME=" + dir_.path()});
  ASSERT_TRUE(WaitUntil([&] { return logs.OutputSoFar().find("tick 2") != std::string::npos; }, 60))
      << agent_->Stderr();
  agent_->Kill(SIGKILL);
  AgentProcessOptions options;
  options.user = "mlcube";
  options.state_dir = agent_->state_dir();
  auto restarted = std::make_unique<AgentProcess>(options);
  ASSERT_TRUE(restarted->Start()) << restarted->Stderr();
  CommandResult result = logs.Wait(90);
  EXPECT_EQ(result.exit_code, 0) << result.err << "\nagent:\n" << restarted->Stderr();
  for (int i = 1; i <= 6; ++i) {
    EXPECT_EQ(CountOccurrences(result.out, absl::StrCat("tick ", i, "\n")), 1)
        << "tick " << i << " in:\n"
        << result.out;
  }
  EXPECT_THAT(Cli({"status", job}).out, HasSubstr("state: SUCCEEDED"));
}

TEST_F(PodmanRootlessTest, ASweepRunsEveryPointInItsOwnDirectory) {
  dir_.WriteFile("hello/workspace/names.yaml", "name: World\n");
  CommandResult result = Cli({"run", Cube(), "--task=greet", "-P",
                              "tasks.greet.parameters.inputs.name_file.default=names.yaml",
                              "--sweep=name_file:name=Ann,Bob", "--parallel=2"});
  ASSERT_EQ(result.exit_code, 0) << result.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(result.err, HasSubstr("all 2 runs succeeded"));
  std::string runs;
  Shell("ls -d " + Workspace() + "/runs/*/r00*", &runs);
  EXPECT_THAT(runs, HasSubstr("/r000\n"));
  EXPECT_THAT(runs, HasSubstr("/r001\n"));
  std::string greetings;
  Shell("cat " + Workspace() + "/runs/*/r00*/greetings/name__*.txt", &greetings);
  EXPECT_THAT(greetings, HasSubstr("Hello, name: Ann!"));
  EXPECT_THAT(greetings, HasSubstr("Hello, name: Bob!"));
}

// Rootless tasks reach the network as Docker's do: through slirp4netns, a
// task fetches a page from a server on an address of this host (one the
// test adds to the loopback device, so it depends on no other).
TEST_F(PodmanRootlessTest, TasksReachTheNetworkThroughSlirp4netns) {
  const std::string address = absl::StrCat("198.18.", getpid() % 200 + 20, ".1");
  ASSERT_EQ(Shell("ip addr add " + address + "/32 dev lo"), 0)
      << "needs iproute2 and root (apt-get install iproute2)";
  struct AddressRemover {
    std::string address;
    ~AddressRemover() { Shell("ip addr del " + address + "/32 dev lo 2>/dev/null"); }
  } remover{address};
  dir_.WriteFile("www/page.txt", absl::StrCat("page for ", getpid(), "\n"));
  const std::string port = absl::StrCat(20000 + getpid() % 20000);
  BackgroundCommand server({dir_.path() + "/hello/build/busybox", "httpd", "-f", "-p",
                            address + ":" + port, "-h", dir_.path() + "/www"});
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Shell("bash -c 'exec 3<>/dev/tcp/" + address + "/" + port + "' 2>/dev/null") == 0;
      },
      10))
      << "busybox httpd did not start on " << address << ":" << port;
  // A `fetch` task: wget of $FETCH_URL into its output.
  dir_.WriteFile("hello/build/hello.sh",
                 "#!/bin/sh\nfor a in \"$@\"; do case $a in --out=*) out=${a#--out=};; esac; done\n"
                 "wget -q -O \"$out/page.txt\" \"$FETCH_URL\"\n");
  dir_.WriteFile("hello/mlcube.yaml",
                 "name: fetch\ndocker: {image: mlcube/fetch:0.1, build_context: build, "
                 "build_file: Dockerfile, build_strategy: auto}\ntasks:\n  fetch: {parameters: "
                 "{outputs: {out: "
                 "{type: directory, default: fetched/}}}}\n");
  dir_.WriteFile("hosts.yaml", "default_host: local\nhosts:\n  local:\n    address: unix://" +
                                   agent_->socket_path() +
                                   "\n    runtime: podman\n    env: {FETCH_URL: 'http://" +
                                   address + ":" + port + "/page.txt'}\n");
  CommandResult result = Cli({"run", Cube(), "--task=fetch"});
  ASSERT_EQ(result.exit_code, 0) << result.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(result.err, Not(HasSubstr("--network=none")));
  EXPECT_EQ(ReadFileContent(Workspace() + "/fetched/page.txt"),
            absl::StrCat("page for ", getpid(), "\n"));
}

// RHEL and Rocky hosts ship Podman alone: a cube's docker settings run with
// Podman there, and the job's log says so.
TEST_F(PodmanRootlessTest, ADockerRequestRunsWithPodmanWhereDockerIsAbsent) {
  ASSERT_NO_FATAL_FAILURE(StartAgent("runtimes:\n  docker: {enabled: false}\n"));
  WriteHosts("docker");
  CommandResult result = Cli({"run", Cube(), "--task=greet"});
  ASSERT_EQ(result.exit_code, 0) << result.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(result.err, HasSubstr("docker is not installed on this agent; podman runs"));
  EXPECT_THAT(result.err, HasSubstr("podman run --rm"));
  EXPECT_EQ(ReadFileContent(Workspace() + "/greetings/Alice.txt"), "Hello, Alice!\n");
}

// A shared agent (root) with rootful Podman: per-identity task uids from
// the pool, workspaces private to them, as with Docker.
class PodmanRootfulSharedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ExpectPodmanInstalled());
    ASSERT_EQ(access(MLCUBE_EXAMPLES_DIR "/hello/build/busybox", X_OK), 0)
        << "run tools/prepare-examples.sh first";
    agents_ = std::make_unique<TwoIdentityAgent>("task_users: {pool: \"3100900-3100949\"}\n",
                                                 /*agent_user=*/"");
    agents_->set_host_runtime("podman");
    ASSERT_TRUE(agents_->Start());
  }

  std::unique_ptr<TwoIdentityAgent> agents_;
};

TEST_F(PodmanRootfulSharedTest, EachIdentitysTasksRunAsItsOwnUidWithPrivateOutputs) {
  std::vector<uid_t> uids;
  for (const std::string user : {"alice", "bob"}) {
    const std::string cube = agents_->root() + "/" + user;
    ASSERT_TRUE(::mlcube::testing::CopyHelloCube(cube));
    CommandResult run = agents_->As(user, {"run", "--mlcube=" + cube, "--task=greet"});
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err << agents_->agent().Stderr();
    EXPECT_THAT(run.err, HasSubstr("podman run --rm"));
    EXPECT_THAT(run.err, Not(HasSubstr("--userns=keep-id")));
    EXPECT_EQ(ReadFileContent(cube + "/workspace/greetings/Bob.txt"), "Hello, Bob!\n");
    const uid_t uid = agents_->TaskUid("cn-" + user);
    ASSERT_GE(uid, 3100900u) << user;
    ASSERT_LE(uid, 3100949u) << user;
    uids.push_back(uid);
    std::string remote;
    Shell("ls -d " + agents_->agent().state_dir() + "/cubes/cn-" + user + "/*/workspace", &remote);
    remote = FirstLine(remote);
    struct stat st;
    ASSERT_EQ(stat((remote + "/greetings/Bob.txt").c_str(), &st), 0) << remote;
    EXPECT_EQ(st.st_uid, uid) << user;
    std::string readable;
    Shell("find '" + remote + "' -perm /007 ! -type l", &readable);
    EXPECT_EQ(readable, "") << "readable by others in " << user << "'s workspace";
  }
  EXPECT_NE(uids[0], uids[1]);
  EXPECT_THAT(PodmanAs("", "images --format {{.Repository}}"), HasSubstr("mlcube-local/cn-bob"));
}

}  // namespace
}  // namespace mlcube_test
