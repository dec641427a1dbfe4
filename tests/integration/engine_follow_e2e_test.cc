// Docker tasks followed through the engine's API (runtimes.docker.api_socket,
// on by default): the container is created with the CLI, then attached,
// started and waited for over /var/run/docker.sock by the step's supervisor,
// so no `docker run` client stays per running task. Real Docker, real agent,
// real CLI.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/hello_cube_fixture.h"
#include "tests/support/command_runner.h"
#include "tests/support/wait_until.h"

namespace mlcube_test {
namespace {

using ::mlcube::testing::CommandResult;
using ::testing::HasSubstr;
using ::testing::Not;

// The command lines of the processes whose argv mentions `text`, one per
// line, arguments joined by spaces (not the shell that looks).
std::string ProcessesMentioning(const std::string& text) {
  std::string out;
  Shell(
      "for p in /proc/[0-9]*; do c=$({ tr '\\0' ' ' <\"$p/cmdline\"; } 2>/dev/null)"
      " && case \"$c\" in *cmdline*) ;; *'" +
          text + "'*) echo \"$c\" ;; esac; done",
      &out);
  return out;
}

// How many lines of `text` contain `needle`.
int CountLines(const std::string& text, const std::string& needle) {
  int count = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n'))
    count += absl::StrContains(line, needle);
  return count;
}

class EngineFollowTest : public HelloCubeTest {
 protected:
  std::string Detach(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"run", Cube(), "--detach"};
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult submitted = Cli(args);
    EXPECT_EQ(submitted.exit_code, 0) << submitted.err << "\nagent:\n" << agent_->Stderr();
    return submitted.out.substr(0, submitted.out.find('\n'));
  }

  bool LogShows(const std::string& job, const std::string& text) {
    return ::mlcube::testing::WaitUntil(
        [&] {
          return Cli({"logs", job}).out.find(text) != std::string::npos;
        },
        60);
  }

  static std::string ContainersOf(const std::string& job) {
    std::string out;
    Shell("docker ps -aq --filter label=mlcube-agent.job=" + job, &out);
    return out;
  }
};

TEST_F(EngineFollowTest, ARunningTaskHoldsNoDockerClientOnlyItsSupervisor) {
  WriteHosts("docker", "30");
  const std::string job = Detach({"--task=count"});
  ASSERT_TRUE(LogShows(job, "tick 1")) << Cli({"logs", job}).out;
  const std::string processes = ProcessesMentioning("mlcube-" + job + "-0");
  // The supervisor's own argv names the container (it is the `run` the
  // log shows); nothing else does: no `docker run`, no `docker create`.
  EXPECT_EQ(CountLines(processes, "/mlcube-agent-supervisor "), 1) << processes;
  EXPECT_THAT(processes, HasSubstr("--engine=/var/run/docker.sock"));
  EXPECT_EQ(CountLines(processes, "mlcube-" + job), 1) << processes;
  EXPECT_THAT(Cli({"logs", job}).err, HasSubstr("docker run --rm --name mlcube-" + job + "-0"));
  ASSERT_EQ(Cli({"cancel", job}).exit_code, 0);
  EXPECT_EQ(Cli({"logs", "-f", job}, 60).exit_code, 130);
  EXPECT_TRUE(::mlcube::testing::WaitUntil([&] { return ContainersOf(job).empty(); }, 30))
      << ContainersOf(job);
}

TEST_F(EngineFollowTest, OutputExitCodeAndStreamsAreTheTasksAndTheContainerIsRemoved) {
  const std::string job = Detach({"--task=fail"});
  CommandResult followed = Cli({"logs", "-f", job}, 60);
  EXPECT_EQ(followed.exit_code, 7) << followed.err;
  EXPECT_THAT(followed.err, HasSubstr("fail: "));  // the task's stderr stays stderr
  EXPECT_THAT(followed.out, Not(HasSubstr("fail: ")));
  EXPECT_THAT(Cli({"status", job}).out, HasSubstr("exit code: 7"));
  EXPECT_TRUE(ContainersOf(job).empty()) << ContainersOf(job);
}

// What `docker run` exits with when the engine cannot start the command
// (127: not found), with the engine's message on stderr; the created
// container does not stay.
TEST_F(EngineFollowTest, ACommandTheImageLacksExitsWith127AsDockerRunDoes) {
  const std::string job = Detach({"--task=greet", "-P", "docker.cpu_args=--entrypoint=/no/such"});
  CommandResult followed = Cli({"logs", "-f", job}, 60);
  EXPECT_EQ(followed.exit_code, 127) << followed.err;
  EXPECT_THAT(followed.err, HasSubstr("docker: Error response from daemon: "));
  EXPECT_THAT(followed.err, HasSubstr("/no/such"));
  EXPECT_TRUE(ContainersOf(job).empty()) << ContainersOf(job);
}

// SIGTERM or SIGINT to the step's process group (the supervisor's own, once
// the container runs) reaches the task, as `docker run` forwards them: the
// hello cube's count task says which signal it got and exits with its code.
TEST_F(EngineFollowTest, ASignalToTheStepReachesTheTaskAsThroughDockerRun) {
  WriteHosts("docker", "60");
  for (const auto& [signal, line, code] : std::vector<std::tuple<int, std::string, int>>{
           {SIGTERM, "count: got SIGTERM", 143}, {SIGINT, "count: got SIGINT", 130}}) {
    const std::string job = Detach({"--task=count"});
    ASSERT_TRUE(LogShows(job, "tick 1")) << Cli({"logs", job}).out;
    std::string pgid;
    Shell("cat " + agent_->state_dir() + "/jobs/" + job + "/step-*.pgid | tail -n 1", &pgid);
    ASSERT_GT(std::atoi(pgid.c_str()), 1) << pgid;
    ASSERT_EQ(::kill(-std::atoi(pgid.c_str()), signal), 0) << strerror(errno);
    CommandResult followed = Cli({"logs", "-f", job}, 60);
    EXPECT_EQ(followed.exit_code, code) << followed.err;
    EXPECT_THAT(followed.out, HasSubstr(line));
    EXPECT_TRUE(::mlcube::testing::WaitUntil([&] { return ContainersOf(job).empty(); }, 30));
  }
}

// A TTY (docker.cpu_args: -t) makes the engine send the output raw, not in
// frames: it still arrives whole.
TEST_F(EngineFollowTest, ATaskWithATtyStreamsItsOutputRaw) {
  const std::string job = Detach({"--task=greet", "-P", "docker.cpu_args=-t"});
  CommandResult followed = Cli({"logs", "-f", job}, 60);
  EXPECT_EQ(followed.exit_code, 0) << followed.err;
  EXPECT_THAT(followed.out, HasSubstr("Hello, "));
  EXPECT_THAT(followed.out, HasSubstr("greet: wrote "));
}

// `api_socket: ""` keeps today's attached client: the same task holds a
// `docker run` process while it runs.
TEST_F(EngineFollowTest, AnEmptyApiSocketRunsTheTaskUnderAnAttachedClient) {
  ASSERT_NO_FATAL_FAILURE(StartAgent("runtimes: {docker: {api_socket: \"\"}}\n"));
  WriteHosts("docker", "30");
  const std::string job = Detach({"--task=count"});
  ASSERT_TRUE(LogShows(job, "tick 1")) << Cli({"logs", job}).out;
  const std::string processes = ProcessesMentioning("mlcube-" + job + "-0");
  EXPECT_THAT(processes, Not(HasSubstr("--engine=")));
  EXPECT_EQ(CountLines(processes, "mlcube-" + job), 2) << processes;  // supervisor + client
  ASSERT_EQ(Cli({"cancel", job}).exit_code, 0);
  EXPECT_EQ(Cli({"logs", "-f", job}, 60).exit_code, 130);
}

}  // namespace
}  // namespace mlcube_test
