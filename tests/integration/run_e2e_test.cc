// End-to-end tests of `mlcube-remote` as a user runs it: the built binary
// against real agent processes (started as the unprivileged `mlcube` user),
// a real Docker engine and a real Apptainer, with a hosts file.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/agent_process.h"
#include "tests/integration/hello_cube_fixture.h"
#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_until.h"

namespace mlcube {
namespace {

using ::mlcube::testing::BackgroundCommand;
using ::mlcube::testing::CommandResult;
using ::mlcube::testing::CountOccurrences;
using ::mlcube::testing::ReadFileContent;
using ::mlcube::testing::RunCommand;
using ::mlcube_test::AgentProcess;
using ::mlcube_test::AgentProcessOptions;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kBinary = MLCUBE_REMOTE_BINARY;
const std::string kExamples = MLCUBE_EXAMPLES_DIR;

using RunEndToEndTest = ::mlcube_test::HelloCubeTest;

TEST_F(RunEndToEndTest, DockerRunStreamsOutputAndBringsOutputsBack) {
  CommandResult result = Cli({"run", Cube(), "--task=greet"});
  ASSERT_EQ(result.exit_code, 0) << result.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(result.out, HasSubstr("Hello, Alice!\nHello, Bob!\nHello, Charlie!\n"));
  // The controller's own messages stay out of the task's stdout.
  EXPECT_THAT(result.out, Not(HasSubstr("mlcube-remote:")));
  EXPECT_THAT(result.err,
              HasSubstr("mlcube-remote: outputs in " + dir_.path() + "/hello/workspace: 4 files"));
  EXPECT_EQ(ReadFileContent(dir_.path() + "/hello/workspace/greetings/Alice.txt"),
            "Hello, Alice!\n");
  EXPECT_EQ(ReadFileContent(dir_.path() + "/hello/workspace/greetings/summary.txt"),
            "greeted 3 names\n");

  // A second run sends nothing new and still succeeds.
  CommandResult again = Cli({"run", Cube(), "--task=greet"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  // Only the new manifest travels: every file blob is already there.
  EXPECT_THAT(again.err, Not(HasSubstr("MiB sent")));
  EXPECT_THAT(again.err, HasSubstr("already there"));
}

// `rerun` submits what the job was submitted with again: a new job whose
// output is the first one's; another job id is refused as unknown.
TEST_F(RunEndToEndTest, RerunRunsAJobAgainAsItWasSubmitted) {
  CommandResult first = Cli({"run", Cube(), "--task=greet"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  CommandResult listed = Cli({"jobs", "--all"});
  const size_t at = listed.out.find('\n');
  ASSERT_NE(at, std::string::npos) << listed.out;
  const std::string job = listed.out.substr(at + 1, 8);
  CommandResult rerun = Cli({"rerun", job});
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  const std::string fresh = rerun.out.substr(0, 8);
  EXPECT_NE(fresh, job);
  EXPECT_THAT(rerun.out, HasSubstr(" QUEUED")) << rerun.out;
  CommandResult followed = Cli({"logs", "-f", fresh});
  EXPECT_EQ(followed.exit_code, 0) << followed.err;
  EXPECT_THAT(followed.out, HasSubstr("Hello, Alice!\nHello, Bob!\nHello, Charlie!\n"));
  CommandResult unknown = Cli({"rerun", "0badc0de"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.err, HasSubstr("no job 0badc0de"));
}

// A task may write into its own inputs on the host. The next push must put
// the user's version back even though nothing changed on the laptop, or the
// next run would silently use the task's version.
TEST_F(RunEndToEndTest, InputsAJobChangedAreRestoredByTheNextPush) {
  // `fail` writes no outputs, so nothing changes on the laptop.
  CommandResult run = Cli({"run", Cube(), "--task=fail"});
  ASSERT_EQ(run.exit_code, 7) << run.err;
  std::string cube_dir;
  ASSERT_EQ(mlcube_test::Shell("ls -d " + agent_->state_dir() + "/cubes/uid-*/hello-*", &cube_dir),
            0);
  cube_dir.erase(cube_dir.find_last_not_of('\n') + 1);
  const std::string remote_names = cube_dir + "/workspace/names.txt";
  const std::string original = ReadFileContent(dir_.path() + "/hello/workspace/names.txt");
  ASSERT_FALSE(original.empty());
  // What a task writing into its input would leave behind.
  ASSERT_EQ(mlcube_test::Shell("echo Mallory > " + remote_names), 0);
  CommandResult push = Cli({"sync", "push", Cube()});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_EQ(ReadFileContent(remote_names), original) << push.err;
  // With no job since, a push is a no-op again.
  CommandResult noop = Cli({"sync", "push", Cube()});
  ASSERT_EQ(noop.exit_code, 0) << noop.err;
  EXPECT_THAT(noop.out + noop.err, HasSubstr("up to date"));
}

// A push while a job of the cube still runs leaves its workspace marked as
// used: the task may still write over an input after that commit, so the
// next push commits again and looks at the disk.
TEST_F(RunEndToEndTest, APushWhileAJobRunsLeavesTheNextPushLookingAtTheDisk) {
  WriteHosts("docker", "120");
  CommandResult submitted = Cli({"run", Cube(), "--task=count", "--detach"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string job = submitted.out.substr(0, submitted.out.find('\n'));
  ASSERT_TRUE(::mlcube::testing::WaitUntil(
      [&] {
        return Cli({"logs", job}).out.find("tick 1") != std::string::npos;
      },
      60))
      << Cli({"logs", job}).out;
  CommandResult during = Cli({"sync", "push", Cube()});
  ASSERT_EQ(during.exit_code, 0) << during.err;
  std::string cube_dir;
  ASSERT_EQ(mlcube_test::Shell("ls -d " + agent_->state_dir() + "/cubes/uid-*/hello-*", &cube_dir),
            0);
  cube_dir.erase(cube_dir.find_last_not_of('\n') + 1);
  const std::string remote_names = cube_dir + "/workspace/names.txt";
  const std::string original = ReadFileContent(Workspace() + "/names.txt");
  // What the running task writing into its input would leave behind.
  ASSERT_EQ(mlcube_test::Shell("echo Mallory > " + remote_names), 0);
  CommandResult after = Cli({"sync", "push", Cube()});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_THAT(after.out + after.err, Not(HasSubstr("up to date")));
  EXPECT_EQ(ReadFileContent(remote_names), original);
  EXPECT_EQ(Cli({"cancel", job}).exit_code, 0);
}

// `sync pull --job` fetches the outputs where the job wrote them: with its
// own -P overrides applied, not where the cube declares them by default.
TEST_F(RunEndToEndTest, PullOfAJobFollowsItsOverrides) {
  CommandResult run = Cli({"run", "-d", Cube(), "--task=greet", "-P",
                           "tasks.greet.parameters.outputs.output_dir.default=elsewhere/"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::string job = run.out;
  job.erase(job.find_last_not_of('\n') + 1);
  ASSERT_EQ(job.size(), 8u) << run.out;
  CommandResult logs = Cli({"logs", "-f", job});
  ASSERT_EQ(logs.exit_code, 0) << logs.err;
  CommandResult pull = Cli({"sync", "pull", Cube(), "--job=" + job});
  ASSERT_EQ(pull.exit_code, 0) << pull.err;
  EXPECT_EQ(ReadFileContent(dir_.path() + "/hello/workspace/elsewhere/Bob.txt"), "Hello, Bob!\n");
}

TEST_F(RunEndToEndTest, TaskExitCodeIsTheExitStatus) {
  CommandResult result = Cli({"run", Cube(), "--task=fail"});
  EXPECT_EQ(result.exit_code, 7) << result.err;
  EXPECT_THAT(result.err, HasSubstr("fail: this task fails on purpose"));
  EXPECT_THAT(result.err, HasSubstr("FAILED"));
}

TEST_F(RunEndToEndTest, DetachThenReattachGetsEveryLineOnce) {
  CommandResult submitted = Cli({"run", Cube(), "--task=count", "--detach"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string job = submitted.out.substr(0, submitted.out.find('\n'));
  ASSERT_FALSE(job.empty());
  EXPECT_THAT(submitted.err, HasSubstr("logs -f --host=local " + job));

  CommandResult logs = Cli({"logs", "-f", job});
  ASSERT_EQ(logs.exit_code, 0) << logs.err;
  for (const char* tick : {"tick 1\n", "tick 2\n", "tick 3\n", "tick 4\n"}) {
    EXPECT_EQ(CountOccurrences(logs.out, tick), 1) << logs.out;
  }
  CommandResult status = Cli({"status", job});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_THAT(status.out, HasSubstr("state: SUCCEEDED"));
  CommandResult jobs = Cli({"jobs", "--all"});
  EXPECT_THAT(jobs.out, HasSubstr(job));
  // Without --all, finished jobs are not listed.
  EXPECT_THAT(Cli({"jobs"}).out, Not(HasSubstr(job)));
}

TEST_F(RunEndToEndTest, CancelStopsTheJob) {
  WriteHosts("docker", "120");
  CommandResult submitted = Cli({"run", Cube(), "--task=count", "--detach"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string job = submitted.out.substr(0, submitted.out.find('\n'));
  // Cancel the task while it runs, not while the job is still queued.
  ASSERT_TRUE(::mlcube::testing::WaitUntil(
      [&] {
        return Cli({"logs", job}).out.find("tick 1") != std::string::npos;
      },
      60))
      << Cli({"logs", job}).out;
  CommandResult cancel = Cli({"cancel", job});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  for (int i = 0; i < 100; ++i) {
    if (Cli({"status", job}).out.find("state: CANCELLED") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_THAT(Cli({"status", job}).out, HasSubstr("state: CANCELLED"));
  EXPECT_EQ(Cli({"logs", "-f", job}).exit_code, 130);
}

TEST_F(RunEndToEndTest, CtrlCDetachesAndTheJobGoesOn) {
  BackgroundCommand run(Argv({"run", Cube(), "--task=count"}),
                        {"NO_COLOR=1", "HOME=" + dir_.path()});
  for (int i = 0; i < 200 && run.OutputSoFar().find("tick 1") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_THAT(run.OutputSoFar(), HasSubstr("tick 1"));
  ::kill(run.pid(), SIGINT);
  CommandResult result = run.Wait(30);
  EXPECT_EQ(result.exit_code, 130) << result.err;
  EXPECT_THAT(result.err, HasSubstr("re-attach with: mlcube-remote logs -f --host=local"));
  // The job was not cancelled: following it now ends with its success.
  const size_t at = result.err.find("logs -f --host=local ");
  const std::string job = result.err.substr(at + 21, 8);
  CommandResult logs = Cli({"logs", "-f", job});
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_EQ(CountOccurrences(logs.out, "tick 4\n"), 1);
}

TEST_F(RunEndToEndTest, SecondCtrlCCancels) {
  WriteHosts("docker", "120");
  BackgroundCommand run(Argv({"run", Cube(), "--task=count"}),
                        {"NO_COLOR=1", "HOME=" + dir_.path()});
  for (int i = 0; i < 200 && run.OutputSoFar().find("tick 1") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(run.pid(), SIGINT);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ::kill(run.pid(), SIGINT);
  CommandResult result = run.Wait(30);
  EXPECT_EQ(result.exit_code, 130);
  EXPECT_THAT(result.err, HasSubstr("cancelled job"));
}

TEST_F(RunEndToEndTest, LogsFollowSurvivesAnAgentRestart) {
  WriteHosts("docker", "8");
  CommandResult submitted = Cli({"run", Cube(), "--task=count", "--detach"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string job = submitted.out.substr(0, submitted.out.find('\n'));
  BackgroundCommand logs(Argv({"logs", "-f", job}), {"NO_COLOR=1", "HOME=" + dir_.path()});
  for (int i = 0; i < 200 && logs.OutputSoFar().find("tick 2") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_THAT(logs.OutputSoFar(), HasSubstr("tick 2"));
  agent_->Kill(SIGKILL);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  AgentProcessOptions options;
  options.user = "mlcube";
  options.state_dir = agent_->state_dir();
  auto restarted = std::make_unique<AgentProcess>(options);
  ASSERT_TRUE(restarted->Start()) << restarted->Stderr();
  CommandResult result = logs.Wait(60);
  EXPECT_EQ(result.exit_code, 0) << result.err << "\nagent:\n" << restarted->Stderr();
  for (int i = 1; i <= 8; ++i) {
    EXPECT_EQ(CountOccurrences(result.out, "tick " + std::to_string(i) + "\n"), 1)
        << "tick " << i << " in:\n"
        << result.out;
  }
  EXPECT_THAT(result.err, HasSubstr("reconnecting"));
}

TEST_F(RunEndToEndTest, ApptainerRunBringsOutputsBack) {
  WriteHosts("singularity");
  CommandResult result = Cli({"run", Cube(), "--task=greet"}, 300);
  ASSERT_EQ(result.exit_code, 0) << result.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(result.out, HasSubstr("Hello, Charlie!"));
  EXPECT_EQ(ReadFileContent(dir_.path() + "/hello/workspace/greetings/Bob.txt"), "Hello, Bob!\n");
  // The SIF stays on the host: nothing image-like came back.
  EXPECT_NE(::access((dir_.path() + "/hello/workspace/.image").c_str(), F_OK), 0);
  CommandResult failed = Cli({"run", Cube(), "--task=fail"}, 120);
  EXPECT_EQ(failed.exit_code, 7) << failed.err;
}

TEST_F(RunEndToEndTest, OlderLayoutWithPlatformAndRunFiles) {
  const std::string cube = dir_.path() + "/legacy";
  ASSERT_EQ(mlcube_test::Shell("cp -a " + std::string(MLCUBE_TEST_DATA_DIR) + "/legacy/hello " +
                               cube + " && cp -a " + kExamples + "/hello/build " + cube + "/"),
            0);
  // The old runners' form: a platform file and a run file instead of a name.
  CommandResult result =
      Cli({"run", "--mlcube=" + cube, "--platform=" + cube + "/platform/docker.yaml",
           "--task=" + cube + "/run/greet_others.yaml"});
  ASSERT_EQ(result.exit_code, 0) << result.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(result.out, HasSubstr("Hello, Grace!\nHello, Linus!\n"));
  EXPECT_EQ(ReadFileContent(cube + "/workspace/other_greetings/Linus.txt"), "Hello, Linus!\n");
  // By task name, run/greet.yaml gives the bindings.
  CommandResult by_name = Cli({"run", "--mlcube=" + cube, "--task=greet"});
  ASSERT_EQ(by_name.exit_code, 0) << by_name.err;
  EXPECT_EQ(ReadFileContent(cube + "/workspace/greetings/Ada.txt"), "Hello, Ada!\n");
}

TEST_F(RunEndToEndTest, ConfigureBuildsTheImage) {
  CommandResult result = Cli({"configure", Cube()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.err, HasSubstr("succeeded"));
}

TEST_F(RunEndToEndTest, BadInputIsReportedBeforeAnythingMoves) {
  CommandResult unknown_task = Cli({"run", Cube(), "--task=nope"});
  EXPECT_EQ(unknown_task.exit_code, 2);
  EXPECT_THAT(unknown_task.err, HasSubstr("no task 'nope' (tasks: count, fail, greet, ranks)"));

  dir_.WriteFile("bad-hosts.yaml", "hosts:\n  local: {address: 'unix:///x', runtime: lxc}\n");
  CommandResult bad_hosts = RunCommand(
      {kBinary, "--hosts=" + dir_.path() + "/bad-hosts.yaml", "run", Cube(), "--task=greet"});
  EXPECT_EQ(bad_hosts.exit_code, 2);
  EXPECT_THAT(bad_hosts.err,
              HasSubstr("bad-hosts.yaml: hosts.local.runtime: expected docker, podman or "
                        "singularity, got 'lxc'"));

  CommandResult unknown_host = Cli({"run", Cube(), "--task=greet", "--host=gpu99"});
  EXPECT_EQ(unknown_host.exit_code, 2);
  EXPECT_THAT(unknown_host.err, HasSubstr("no host named 'gpu99'"));

  dir_.WriteFile("hello/mlcube.yaml",
                 "name: hello\ntasks: {greet: {parameters: {inputs: "
                 "{x: {type: folder}}}}}\n");
  CommandResult bad_cube = Cli({"run", Cube(), "--task=greet"});
  EXPECT_EQ(bad_cube.exit_code, 2);
  EXPECT_THAT(bad_cube.err, HasSubstr("tasks.greet.parameters.inputs.x.type: expected 'file' "
                                      "or 'directory', got 'folder'"));
}

TEST_F(RunEndToEndTest, UnreachableHostIsAnAgentError) {
  dir_.WriteFile("hosts.yaml",
                 "hosts:\n  local: {address: 'unix://" + dir_.path() + "/no-agent.sock'}\n");
  CommandResult result = Cli({"run", Cube(), "--task=greet"});
  EXPECT_EQ(result.exit_code, 75) << result.err;
  EXPECT_THAT(result.err, HasSubstr("local (unix://"));
}

}  // namespace
}  // namespace mlcube
