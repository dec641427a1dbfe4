// `agent install` into a real remote host with systemd as PID 1 and sshd: a
// Debian container (tools/systemd-test-host.sh; image built once and cached)
// with users alice (passwordless sudo) and bob. What only a real systemd and
// logind show: a per-user agent as a `systemctl --user` service (lingering),
// a detached one that outlives the SSH session (no lingering), the system
// agent as an enabled unit that logs to the journal with its own fields and
// comes back after `systemctl restart` and after a reboot, and uninstall
// leaving no unit and no process.
//
// Part of the whole suite: tools/run-tests.sh builds the image first (the
// first time it debootstraps, a few minutes, needing the Debian mirror).
// Alone, after `tools/systemd-test-host.sh image`:
//   ctest --test-dir build -L systemd-host

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "tests/integration/agent_process.h"
#include "tests/integration/ssh_test_server.h"
#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_until.h"

namespace mlcube_test {
namespace {

using ::mlcube::testing::CommandResult;
using ::mlcube::testing::RunCommand;
using ::mlcube::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kContainer[] = "install-systemd-host";
constexpr char kScript[] = MLCUBE_SOURCE_DIR "/tools/systemd-test-host.sh";

class SystemdHostTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new TempDir();
    const std::string client = root_->path() + "/client";
    port_ = FreeLoopbackPort();
    std::string known;
    if (Shell("mkdir -m 0700 " + client + " && ssh-keygen -q -t ed25519 -N '' -f " + client +
              "/key") != 0 ||
        Shell(std::string(kScript) + " start " + kContainer + " " + std::to_string(port_) + " " +
                  client + "/key.pub",
              &known) != 0) {
      return;  // SetUp fails each test with the reason
    }
    root_->WriteFile("client/known_hosts", known);
    std::string hosts = "hosts:\n";
    for (const char* user : {"alice", "bob"}) {
      hosts += std::string("  ") + user +
               ":\n    ssh: {host: 127.0.0.1, port: " + std::to_string(port_) + ", user: " + user +
               ", identity_file: " + client + "/key}\n";
    }
    hosts += "  system:\n    ssh: {host: 127.0.0.1, port: " + std::to_string(port_) +
             ", user: alice, identity_file: " + client +
             "/key}\n    agent_socket: /run/mlcube-agent/agent.sock\n";
    root_->WriteFile("hosts.yaml", hosts);
    ready_ = true;
  }

  static void TearDownTestSuite() {
    Shell(std::string(kScript) + " stop " + kContainer);
    delete root_;
    root_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(ready_) << "the systemd host did not start: run `" << kScript << " start "
                        << kContainer << " PORT KEY.pub` by hand to see why (needs Docker and, "
                        << "the first time, debootstrap and the Debian mirror)";
  }

  static CommandResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {MLCUBE_REMOTE_BINARY, "--hosts=" + root_->path() + "/hosts.yaml"});
    return RunCommand(args, {"MLCUBE_REMOTE_SSH_DIR=" + root_->path() + "/client", "NO_COLOR=1"},
                      120);
  }

  // A command inside the host, as root.
  static std::string Exec(const std::string& command) {
    std::string out;
    Shell(std::string("docker exec ") + kContainer + " sh -c '" + command + "' 2>&1", &out);
    return out;
  }

  static bool HostUp(const std::string& name) {
    CommandResult hosts = Cli({"hosts"});
    return hosts.out.find(name + " ") != std::string::npos &&
           ::testing::Matches(::testing::ContainsRegex(name + " +up +" MLCUBE_REMOTE_VERSION))(
               hosts.out);
  }

  // Polls `done` every 200 ms until it holds; false after `seconds`.
  static bool WaitUntil(const std::function<bool()>& done, int seconds = 60) {
    return ::mlcube::testing::WaitUntil(done, seconds, 200);
  }

  // Waits until systemd in the host says it is up again.
  static bool WaitForBoot() {
    return WaitUntil([] {
      const std::string state = Exec("systemctl is-system-running");
      return state == "running\n" || state == "degraded\n";
    });
  }

  static TempDir* root_;
  static int port_;
  static bool ready_;
};

TempDir* SystemdHostTest::root_ = nullptr;
int SystemdHostTest::port_ = 0;
bool SystemdHostTest::ready_ = false;

// No lingering: a user service would die at logout with its tasks, so the
// agent runs detached and is still there after the session is gone.
TEST_F(SystemdHostTest, PerUserWithoutLingeringRunsDetachedAndOutlivesTheSession) {
  CommandResult install = Cli({"agent", "install", "--host=bob"});
  ASSERT_EQ(install.exit_code, 0) << install.err;
  EXPECT_THAT(install.err, HasSubstr("user systemd: yes, lingering: no"));
  EXPECT_THAT(install.err, HasSubstr("lingering is off for bob"));
  EXPECT_THAT(install.err, HasSubstr("runs as a detached process"));
  // Every SSH session of bob's has ended once logind has none of his left
  // active or online: the agent, still running, kept its session "closing".
  EXPECT_TRUE(WaitUntil([] {
    return Exec("loginctl show-user bob -p State --value") == "closing\n";
  })) << "bob's sessions never all ended:\n"
      << Exec("loginctl show-user bob; loginctl list-sessions --no-legend")
      << Exec("ps -eo pid,ppid,user,args");
  EXPECT_THAT(Exec("ps -u bob -o args"), HasSubstr("mlcube-agent.real serve"));
  EXPECT_THAT(Cli({"hosts"}).err, Not(HasSubstr("bob: your agent was not running")));
  EXPECT_TRUE(HostUp("bob"));
  CommandResult uninstall = Cli({"agent", "uninstall", "--host=bob"});
  EXPECT_EQ(uninstall.exit_code, 0) << uninstall.err;
  EXPECT_THAT(Exec("ps -u bob -o args"), Not(HasSubstr("mlcube-agent")));
}

// Lingering: a `systemctl --user` service, socket under XDG_RUNTIME_DIR, back
// by itself after a reboot.
TEST_F(SystemdHostTest, PerUserWithLingeringIsAUserServiceThatSurvivesAReboot) {
  Exec("loginctl enable-linger alice");
  CommandResult install = Cli({"agent", "install", "--host=alice"});
  ASSERT_EQ(install.exit_code, 0) << install.err;
  EXPECT_THAT(install.err, HasSubstr("wrote systemd user unit"));
  EXPECT_THAT(install.err, HasSubstr("/run/user/"));
  CommandResult again = Cli({"agent", "install", "--host=alice"});
  EXPECT_THAT(again.err, HasSubstr("systemd user unit unchanged"));
  EXPECT_THAT(again.err, HasSubstr("already running"));
  CommandResult status = Cli({"agent", "status", "--host=alice"});
  EXPECT_THAT(status.out, HasSubstr(", systemd"));

  ASSERT_EQ(Shell(std::string("docker restart -t 5 ") + kContainer + " >/dev/null"), 0);
  ASSERT_TRUE(WaitForBoot());
  // Her user manager starts the service at boot; it answers once it listens.
  EXPECT_TRUE(WaitUntil([] { return HostUp("alice"); })) << Exec("ps -u alice -o args");
  EXPECT_THAT(Exec("ps -u alice -o args"), HasSubstr("mlcube-agent.real serve"));

  CommandResult uninstall = Cli({"agent", "uninstall", "--host=alice"});
  EXPECT_EQ(uninstall.exit_code, 0) << uninstall.err;
  EXPECT_THAT(Exec("ls /home/alice/.config/systemd/user/ 2>&1"), Not(HasSubstr("mlcube-agent")));
  EXPECT_THAT(Exec("ps -u alice -o args"), Not(HasSubstr("mlcube-agent")));
  Exec("loginctl disable-linger alice");
}

TEST_F(SystemdHostTest, SystemAgentIsAnEnabledServiceThatComesBack) {
  CommandResult refused = Cli({"agent", "install", "--host=bob", "--system"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("--system needs root or passwordless sudo"));

  CommandResult install = Cli({"agent", "install", "--host=system", "--system"});
  ASSERT_EQ(install.exit_code, 0) << install.err << Exec("journalctl -u mlcube-agent -n 20");
  EXPECT_THAT(install.err, HasSubstr("/usr/local/lib/mlcube-remote/" MLCUBE_REMOTE_VERSION));
  EXPECT_THAT(install.err,
              HasSubstr("wrote systemd unit: /etc/systemd/system/mlcube-agent.service"));
  EXPECT_EQ(Exec("systemctl is-enabled mlcube-agent"), "enabled\n");
  EXPECT_THAT(Exec("grep KillMode /etc/systemd/system/mlcube-agent.service"),
              HasSubstr("KillMode=process"));
  // The Debian package's unit, hardening included, with this install's paths.
  const std::string unit = Exec("cat /etc/systemd/system/mlcube-agent.service");
  for (const char* line : {"ProtectSystem=full\n", "PrivateTmp=yes\n", "ProtectKernelModules=yes\n",
                           "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK\n",
                           "ExecStart=/usr/local/lib/mlcube-remote/current/bin/mlcube-agent "
                           "serve --config=/etc/mlcube-agent/agent.yaml\n"}) {
    EXPECT_THAT(unit, HasSubstr(line));
  }
  EXPECT_THAT(Exec("ps -u mlcube-agent -o args"), HasSubstr("mlcube-agent.real serve"));
  EXPECT_TRUE(HostUp("system"));
  // Its log goes to the journal with fields of its own: a refused call is
  // one record with the caller's identity and the request's id.
  EXPECT_NE(Cli({"status", "--host=system", "0badcafe"}).exit_code, 0);
  std::string record;
  EXPECT_TRUE(WaitUntil(
      [&record] {
        record = Exec("journalctl -u mlcube-agent -o json --no-pager | grep GetJob");
        return !record.empty();
      },
      30))
      << Exec("journalctl -u mlcube-agent -n 20");
  for (const char* field :
       {"\"MESSAGE\":\"GetJob: NOT_FOUND in ", "\"SYSLOG_IDENTIFIER\":\"mlcube-agent\"",
        "\"PRIORITY\":\"6\"", "\"MLCUBE_REQUEST_ID\":\"", "\"MLCUBE_IDENTITY\":\""}) {
    EXPECT_THAT(record, HasSubstr(field));
  }
  CommandResult again = Cli({"agent", "install", "--host=system", "--system"});
  EXPECT_THAT(again.err, HasSubstr("systemd unit unchanged"));
  EXPECT_THAT(again.err, HasSubstr("already running"));

  // A restart starts a new process, which answers once it listens.
  const std::string before = Exec("systemctl show -p MainPID --value mlcube-agent");
  Exec("systemctl restart mlcube-agent");
  EXPECT_NE(Exec("systemctl show -p MainPID --value mlcube-agent"), before);
  EXPECT_TRUE(WaitUntil([] { return HostUp("system"); }))
      << Exec("journalctl -u mlcube-agent -n 20");
  ASSERT_EQ(Shell(std::string("docker restart -t 5 ") + kContainer + " >/dev/null"), 0);
  ASSERT_TRUE(WaitForBoot());
  EXPECT_TRUE(WaitUntil([] { return HostUp("system"); }))
      << Exec("journalctl -u mlcube-agent -n 20");

  CommandResult uninstall = Cli({"agent", "uninstall", "--host=system", "--system"});
  EXPECT_EQ(uninstall.exit_code, 0) << uninstall.err;
  EXPECT_THAT(Exec("ls /etc/systemd/system/"), Not(HasSubstr("mlcube-agent")));
  EXPECT_THAT(Exec("ps -e -o args"), Not(HasSubstr("mlcube-agent")));
}

// The Debian package for admins: `apt install ./mlcube-agent_*.deb` (its
// dependencies from the mirror) creates the service user and starts the
// service; removal stops it and keeps the state dir.
TEST_F(SystemdHostTest, DebianPackageInstallsAServiceAndRemovalKeepsTheState) {
  const std::string out = root_->path() + "/deb";
  std::string made;
  ASSERT_EQ(
      Shell("cpack -G DEB --config " MLCUBE_BINARY_DIR "/CPackConfig.cmake -B " + out + " 2>&1",
            &made),
      0)
      << made;
  std::string deb;
  ASSERT_EQ(Shell("ls " + out + "/mlcube-agent_*.deb | tr -d '\\n'", &deb), 0);
  ASSERT_EQ(Shell(std::string("docker cp ") + deb + " " + kContainer + ":/tmp/agent.deb"), 0);
  const std::string installed = Exec(
      "apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
      "/tmp/agent.deb 2>&1 && echo INSTALLED");
  ASSERT_THAT(installed, HasSubstr("INSTALLED"));
  for (int i = 0; i < 50 && Exec("test -S /run/mlcube-agent/agent.sock && echo up") != "up\n";
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(Exec("systemctl is-active mlcube-agent"), "active\n");
  EXPECT_EQ(Exec("systemctl is-enabled mlcube-agent"), "enabled\n");
  EXPECT_THAT(Exec("id mlcube-agent"), HasSubstr("(docker)"));
  EXPECT_TRUE(HostUp("system"));
  Exec("DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq mlcube-agent");
  EXPECT_EQ(Exec("systemctl is-active mlcube-agent"), "inactive\n");
  EXPECT_THAT(Exec("ls /var/lib/mlcube-agent"), HasSubstr("jobs"));
  EXPECT_THAT(Exec("ps -u mlcube-agent -o args"), Not(HasSubstr("mlcube-agent")));
}

}  // namespace
}  // namespace mlcube_test
