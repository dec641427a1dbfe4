// `mlcube-remote agent install` against a real OpenSSH sshd on loopback, as
// an unprivileged user of its own (no user systemd here: the agent runs as a
// detached process). The agent installed is the self-contained bundle the
// build puts beside mlcube-remote, so a job that runs through it proves the
// bundle's supervisors start too.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/integration/agent_process.h"
#include "tests/integration/ssh_test_server.h"
#include "tests/support/command_runner.h"
#include "tests/support/hello_cube.h"
#include "tests/support/temp_dir.h"

namespace mlcube_test {
namespace {

using ::mlcube::testing::CommandResult;
using ::mlcube::testing::RunCommand;
using ::mlcube::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

// A user of this test alone: its home holds the installed agent.
constexpr char kUser[] = "mlcube-install";

class AgentInstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(Shell(MLCUBE_SOURCE_DIR "/tools/create-test-user.sh " + std::string(kUser) + " 2>&1"),
              0);
    ASSERT_TRUE(LookupUser(kUser, &uid_, &gid_));
    std::string home;
    ASSERT_EQ(Shell("getent passwd " + std::string(kUser) + " | cut -d: -f6 | tr -d '\\n'", &home),
              0);
    home_ = home;
    RemoveEverything();
    chmod(root_.path().c_str(), 0755);
    client_dir_ = root_.path() + "/client";
    mkdir(client_dir_.c_str(), 0700);
    ASSERT_EQ(Shell("ssh-keygen -q -t ed25519 -N '' -f " + client_dir_ + "/key"), 0);
    sshd_ =
        std::make_unique<SshTestServer>(root_.path() + "/sshd", kUser, client_dir_ + "/key.pub");
    ASSERT_TRUE(sshd_->Start());
    root_.WriteFile("client/known_hosts", sshd_->KnownHostsLine());
    // No agent_socket: the user's own agent.
    root_.WriteFile("hosts.yaml", "hosts:\n  gpu:\n    ssh: {host: 127.0.0.1, port: " +
                                      std::to_string(sshd_->port()) + ", user: " + kUser +
                                      ", identity_file: " + client_dir_ + "/key}\n");
  }

  void TearDown() override { RemoveEverything(); }

  // Kills the agent of the test user's install and removes what it left.
  void RemoveEverything() {
    // The pid file names the only agent the tests start.
    const std::string pid = mlcube::testing::ReadFileContent(PidFile());
    if (!pid.empty() && !home_.empty()) {
      Shell("kill -KILL $(pgrep -u " + std::string(kUser) + " -F " + PidFile() + ") 2>/dev/null");
    }
    Shell("rm -rf " + home_ + "/.local/lib/mlcube-remote " + home_ + "/.config/mlcube-agent " +
          home_ + "/.local/state/mlcube-remote");
  }

  CommandResult Cli(std::vector<std::string> args, int timeout = 120) {
    args.insert(args.begin(), {MLCUBE_REMOTE_BINARY, "--hosts=" + root_.path() + "/hosts.yaml"});
    return RunCommand(args, {"MLCUBE_REMOTE_SSH_DIR=" + client_dir_, "NO_COLOR=1"}, timeout);
  }

  CommandResult Install() { return Cli({"agent", "install", "--host=gpu"}); }

  // Processes of the test user started from the installed bundle.
  std::string AgentProcesses() {
    std::string out;
    Shell("pgrep -a -u " + std::string(kUser) + " -f '\\.local/lib/mlcube-remote' || true", &out);
    return out;
  }

  std::string PidFile() { return home_ + "/.local/state/mlcube-remote/agent.pid"; }

  TempDir root_;
  std::string client_dir_;
  std::string home_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  std::unique_ptr<SshTestServer> sshd_;
};

TEST_F(AgentInstallTest, InstallStartsTheUsersOwnAgentAndHostsShowsItUp) {
  const auto start = std::chrono::steady_clock::now();
  CommandResult install = Install();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err << sshd_->Log();
  std::cout << "install over loopback SSH: " << seconds << " s\n";
  EXPECT_THAT(install.err, HasSubstr("uploaded mlcube-agent-" MLCUBE_REMOTE_VERSION "-linux-"));
  EXPECT_THAT(install.err, HasSubstr("installed the agent bundle " MLCUBE_REMOTE_VERSION));
  EXPECT_THAT(install.err, HasSubstr("runs as a detached process"));
  // The engines it found on the host, as the user finds them.
  std::string engines;
  Shell(std::string("su -l ") + kUser +
            " -c 'for e in docker podman apptainer singularity; do command -v $e >/dev/null "
            "&& printf \"%s \" $e; done'",
        &engines);
  EXPECT_THAT(install.err, HasSubstr("container engines: " + engines.substr(0, engines.size() - 1)))
      << engines;
  EXPECT_THAT(install.err, HasSubstr("answers as uid-" + std::to_string(uid_)));

  // Running as the user, from the versioned directory, socket 0600.
  const std::string pid = mlcube::testing::ReadFileContent(PidFile());
  ASSERT_FALSE(pid.empty());
  struct stat proc;
  ASSERT_EQ(stat(("/proc/" + pid.substr(0, pid.size() - 1)).c_str(), &proc), 0);
  EXPECT_EQ(proc.st_uid, uid_);
  EXPECT_THAT(AgentProcesses(), HasSubstr(".local/lib/mlcube-remote/" MLCUBE_REMOTE_VERSION
                                          "/bin/mlcube-agent.real serve"));
  struct stat socket;
  ASSERT_EQ(stat((home_ + "/.local/state/mlcube-remote/agent.sock").c_str(), &socket), 0);
  EXPECT_EQ(socket.st_mode & 0777, 0600u);

  CommandResult hosts = Cli({"hosts"});
  EXPECT_EQ(hosts.exit_code, 0) << hosts.out << hosts.err;
  EXPECT_THAT(hosts.out, ::testing::ContainsRegex("gpu\\* +up +" MLCUBE_REMOTE_VERSION));
  CommandResult status = Cli({"agent", "status", "--host=gpu"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("current:   " MLCUBE_REMOTE_VERSION));
  EXPECT_THAT(status.out, HasSubstr("detached"));
}

TEST_F(AgentInstallTest, SecondInstallChangesNothing) {
  CommandResult first = Install();
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string pid = mlcube::testing::ReadFileContent(PidFile());
  std::string before;
  ASSERT_EQ(Shell("find " + home_ + "/.local/lib/mlcube-remote " + home_ +
                      "/.config/mlcube-agent -printf '%p %s %T@\\n' | sort",
                  &before),
            0);
  CommandResult second = Install();
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_THAT(second.err, Not(HasSubstr("uploaded")));
  EXPECT_THAT(second.err, HasSubstr("bundle " MLCUBE_REMOTE_VERSION " already in"));
  EXPECT_THAT(second.err, HasSubstr("agent config unchanged"));
  EXPECT_THAT(second.err, HasSubstr("already running (pid " + pid.substr(0, pid.size() - 1)));
  EXPECT_EQ(mlcube::testing::ReadFileContent(PidFile()), pid);
  std::string after;
  ASSERT_EQ(Shell("find " + home_ + "/.local/lib/mlcube-remote " + home_ +
                      "/.config/mlcube-agent -printf '%p %s %T@\\n' | sort",
                  &after),
            0);
  EXPECT_EQ(before, after);
}

// The offline example cube runs in Docker through the installed agent: its
// step runs under the bundle's supervisor, files land in the user's state.
TEST_F(AgentInstallTest, JobRunsThroughTheInstalledAgent) {
  ASSERT_EQ(access(MLCUBE_SOURCE_DIR "/examples/hello/build/busybox", X_OK), 0)
      << "run tools/prepare-examples.sh first (copies busybox into examples/hello/build)";
  ASSERT_EQ(Shell("docker info >/dev/null"), 0) << "start Docker: tools/start-docker.sh";
  ASSERT_EQ(Install().exit_code, 0);
  const std::string cube = root_.path() + "/hello";
  ASSERT_TRUE(::mlcube::testing::CopyHelloCube(cube));
  CommandResult run = Cli({"run", "--mlcube=" + cube, "--task=greet"}, 300);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_THAT(run.out + run.err, HasSubstr("Hello, Alice!"));
  std::string owners;
  ASSERT_EQ(Shell("ls " + home_ + "/.local/state/mlcube-remote/cubes", &owners), 0);
  EXPECT_EQ(owners, "uid-" + std::to_string(uid_) + "\n");
  EXPECT_FALSE(mlcube::testing::ReadFileContent(cube + "/workspace/greetings/summary.txt").empty());
}

TEST_F(AgentInstallTest, StoppedAgentIsStartedOnDemand) {
  ASSERT_EQ(Install().exit_code, 0);
  CommandResult stop = Cli({"agent", "stop", "--host=gpu"});
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_THAT(stop.err, HasSubstr("stopped the agent"));
  EXPECT_EQ(AgentProcesses(), "");
  CommandResult hosts = Cli({"hosts"});
  EXPECT_EQ(hosts.exit_code, 0) << hosts.out << hosts.err;
  EXPECT_THAT(hosts.err, HasSubstr("gpu: your agent was not running; started it"));
  EXPECT_THAT(hosts.out, ::testing::ContainsRegex("gpu\\* +up +" MLCUBE_REMOTE_VERSION));
}

TEST_F(AgentInstallTest, UninstallLeavesNoProcessAndRunSaysHowToInstall) {
  ASSERT_EQ(Install().exit_code, 0);
  ASSERT_NE(AgentProcesses(), "");
  CommandResult uninstall = Cli({"agent", "uninstall", "--host=gpu"});
  ASSERT_EQ(uninstall.exit_code, 0) << uninstall.err;
  EXPECT_THAT(uninstall.err, HasSubstr("removed " + home_ + "/.local/lib/mlcube-remote"));
  EXPECT_EQ(AgentProcesses(), "");
  EXPECT_NE(access((home_ + "/.local/lib/mlcube-remote").c_str(), F_OK), 0);
  EXPECT_NE(access((home_ + "/.config/mlcube-agent").c_str(), F_OK), 0);

  const std::string cube = root_.path() + "/hello";
  ASSERT_TRUE(::mlcube::testing::CopyHelloCube(cube));
  CommandResult run = Cli({"run", "--mlcube=" + cube, "--task=greet"});
  EXPECT_NE(run.exit_code, 0);
  EXPECT_THAT(run.err, HasSubstr("install it with `mlcube-remote agent install --host=gpu`"));
}

// `agent upgrade` to another bundle while a task runs: the new bundle goes in
// beside, the agent restarts into it, the task goes on under its supervisor
// (not a child of the agent) and its log reaches the client whole, each line
// once. The "other bundle" is this version repacked with one more file, so
// its checksum differs; the controller copy beside it uploads that one.
TEST_F(AgentInstallTest, UpgradeWhileAJobRunsKeepsTheJobAndEveryLine) {
  ASSERT_EQ(access(MLCUBE_SOURCE_DIR "/examples/hello/build/busybox", X_OK), 0)
      << "run tools/prepare-examples.sh first (copies busybox into examples/hello/build)";
  ASSERT_EQ(Shell("docker info >/dev/null"), 0) << "start Docker: tools/start-docker.sh";
  ASSERT_EQ(Install().exit_code, 0);
  root_.WriteFile("hosts.yaml", mlcube::testing::ReadFileContent(root_.path() + "/hosts.yaml") +
                                    "    env: {COUNT_SECONDS: \"8\"}\n");
  const std::string cube = root_.path() + "/hello";
  ASSERT_TRUE(::mlcube::testing::CopyHelloCube(cube));
  CommandResult submit = Cli({"run", "--detach", "--mlcube=" + cube, "--task=count"}, 300);
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  const std::string job = submit.out.substr(0, submit.out.find('\n'));
  for (int i = 0; i < 100; ++i) {
    if (Cli({"logs", "--host=gpu", job}).out.find("tick 2") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const std::string old_pid = mlcube::testing::ReadFileContent(PidFile());

  const std::string other = root_.path() + "/other";
  const std::string bundle = std::string(MLCUBE_AGENT_BUNDLE);
  const std::string name = bundle.substr(bundle.rfind('/') + 1);
  const std::string top = name.substr(0, name.size() - 7);  // no .tar.gz
  ASSERT_EQ(
      Shell("mkdir -p " + other + "/x && tar -xzf " + bundle + " -C " + other +
            "/x && echo rebuilt > " + other + "/x/" + top + "/NOTE && tar -czf " + other + "/" +
            name + " -C " + other + "/x " + top + " && cp " MLCUBE_REMOTE_BINARY " " + other + "/"),
      0);
  CommandResult upgrade =
      RunCommand({other + "/mlcube-remote", "--hosts=" + root_.path() + "/hosts.yaml", "agent",
                  "upgrade", "--host=gpu"},
                 {"MLCUBE_REMOTE_SSH_DIR=" + client_dir_, "NO_COLOR=1"}, 120);
  ASSERT_EQ(upgrade.exit_code, 0) << upgrade.err;
  EXPECT_THAT(upgrade.err, HasSubstr("uploaded"));
  EXPECT_THAT(upgrade.err,
              HasSubstr("stopped the agent (pid " + old_pid.substr(0, old_pid.size() - 1)));
  EXPECT_THAT(upgrade.err, HasSubstr("started the agent " MLCUBE_REMOTE_VERSION));
  EXPECT_NE(mlcube::testing::ReadFileContent(PidFile()), old_pid);

  CommandResult logs = Cli({"logs", "-f", "--host=gpu", job}, 120);
  EXPECT_EQ(logs.exit_code, 0) << logs.out << logs.err;
  for (int i = 1; i <= 8; ++i) {
    EXPECT_EQ(mlcube::testing::CountOccurrences(logs.out, "tick " + std::to_string(i) + "\n"), 1)
        << i << "\n"
        << logs.out;
  }
}

// Without the bundle beside it (or configured), install says how to make one.
TEST_F(AgentInstallTest, MissingBundleSaysHowToMakeIt) {
  const std::string lone = root_.path() + "/bin/mlcube-remote";
  ASSERT_EQ(Shell("mkdir -p " + root_.path() + "/bin && cp " MLCUBE_REMOTE_BINARY " " + lone), 0);
  CommandResult install = RunCommand(
      {lone, "--hosts=" + root_.path() + "/hosts.yaml", "agent", "install", "--host=gpu"},
      {"MLCUBE_REMOTE_SSH_DIR=" + client_dir_, "NO_COLOR=1", "MLCUBE_REMOTE_BUNDLE_DIR="});
  EXPECT_NE(install.exit_code, 0);
  EXPECT_THAT(install.err, HasSubstr("no agent bundle mlcube-agent-" MLCUBE_REMOTE_VERSION));
  EXPECT_THAT(install.err, HasSubstr("tools/package-agent.sh"));
  EXPECT_EQ(AgentProcesses(), "");
}

}  // namespace
}  // namespace mlcube_test
