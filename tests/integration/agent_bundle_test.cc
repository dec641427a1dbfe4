// The self-contained agent bundle (tools/package-agent.sh) in a root
// filesystem that holds nothing but the bundle and a static busybox: no
// /lib, no /usr, no glibc of the host. If the agent reached for anything of
// the host, it would not start there.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/integration/agent_process.h"
#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"

namespace mlcube_test {
namespace {

using ::mlcube::testing::BackgroundCommand;
using ::mlcube::testing::CommandResult;
using ::mlcube::testing::RunCommand;
using ::mlcube::testing::TempDir;
using ::testing::HasSubstr;

constexpr char kBundleDir[] = "/opt/mlcube-agent";

class AgentBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(MLCUBE_AGENT_BUNDLE, R_OK), 0)
        << "no bundle at " MLCUBE_AGENT_BUNDLE " (ninja -C build mlcube-agent-bundle)";
    ASSERT_EQ(access("/bin/busybox", X_OK), 0) << "apt-get install -y busybox-static";
    const std::string& root = root_.path();
    ASSERT_EQ(Shell("mkdir -p " + root + "/bin " + root + "/run " + root + kBundleDir +
                    " && cp /bin/busybox " + root + "/bin/busybox && ln -s busybox " + root +
                    "/bin/sh && tar -xzf " MLCUBE_AGENT_BUNDLE " --strip-components=1 -C " + root +
                    kBundleDir),
              0);
  }

  // The bundle's launcher as seen inside the chroot.
  static std::string Agent() { return std::string(kBundleDir) + "/bin/mlcube-agent"; }

  TempDir root_;
};

TEST_F(AgentBundleTest, NothingOfTheHostIsInTheRoot) {
  // The proof is only as good as the root is bare.
  for (const char* dir : {"/lib", "/lib64", "/usr", "/etc"}) {
    EXPECT_NE(access((root_.path() + dir).c_str(), F_OK), 0) << dir;
  }
  std::string libs;
  ASSERT_EQ(Shell("ls " + root_.path() + kBundleDir + "/lib", &libs), 0);
  EXPECT_THAT(libs, HasSubstr("libc.so.6"));
  EXPECT_THAT(libs, HasSubstr("ld-linux"));
  // The shared libraries it still links with (gRPC and Abseil are static).
  EXPECT_THAT(libs, HasSubstr("libstdc++.so"));
  EXPECT_THAT(libs, HasSubstr("libcrypto.so"));
}

TEST_F(AgentBundleTest, VersionRunsInABareRoot) {
  CommandResult result = RunCommand({"/usr/sbin/chroot", root_.path(), Agent(), "--version"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "mlcube-agent " MLCUBE_REMOTE_VERSION "\n");
}

// `serve` answers GetInfo on its socket, reached from outside the root.
TEST_F(AgentBundleTest, ServeAnswersGetInfoInABareRoot) {
  BackgroundCommand agent({"/usr/sbin/chroot", root_.path(), Agent(), "serve",
                           "--listen=unix:///run/agent.sock", "--state-dir=/state"});
  const std::string socket = root_.path() + "/run/agent.sock";
  std::string identity;
  for (int i = 0; i < 100; ++i) {
    if (access(socket.c_str(), F_OK) == 0 &&
        Shell(std::string(AGENT_TEST_CLIENT_BIN) + " " + socket + " 2>&1", &identity) == 0) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(identity, "uid-0\n") << agent.OutputSoFar();
  struct stat state;
  EXPECT_EQ(stat((root_.path() + "/state/jobs").c_str(), &state), 0) << "state dir not made";
  // The launcher tells the agent how to start its task supervisors: through
  // the launcher, never through /proc/self/exe (the bundled loader).
  std::string environ;
  ASSERT_EQ(Shell("tr '\\0' '\\n' < /proc/" + std::to_string(agent.pid()) +
                      "/environ | grep MLCUBE_AGENT_SELF || true",
                  &environ),
            0);
  // chroot exec'ed the launcher, which exec'ed the loader: same pid.
  EXPECT_EQ(environ, "MLCUBE_AGENT_SELF=" + Agent() + "\n");
  // ps and pgrep see the agent, not the loader.
  EXPECT_EQ(mlcube::testing::ReadFileContent("/proc/" + std::to_string(agent.pid()) + "/comm"),
            "mlcube-agent\n");
}

}  // namespace
}  // namespace mlcube_test
