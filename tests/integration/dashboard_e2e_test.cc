// `mlcube-remote ui` end to end: the built controller serving the dashboard
// against a real agent (as the unprivileged `mlcube` user) running real
// Docker jobs, checked over real HTTP (curl) and in a real headless Chromium
// (tests/browser/dashboard_check.py).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/integration/agent_process.h"
#include "tests/integration/hello_cube_fixture.h"
#include "tests/integration/train_cube.h"
#include "tests/support/command_runner.h"
#include "tests/support/wait_until.h"

namespace mlcube {
namespace {

using ::mlcube::testing::BackgroundCommand;
using ::mlcube::testing::CommandResult;
using ::mlcube::testing::RunCommand;
using ::mlcube::testing::WaitUntil;
using ::testing::HasSubstr;

constexpr const char* kTrainImage = "mlcube-dashboard-e2e/hello:1";
const std::string kCheckScript =
    std::string(MLCUBE_SOURCE_DIR) + "/tests/browser/dashboard_check.py";

class DashboardEndToEndTest : public ::mlcube_test::HelloCubeTest {
 protected:
  void SetUp() override {
    HelloCubeTest::SetUp();
    if (HasFatalFailure()) return;
    ::mlcube_test::AddTrainTask(dir_, kTrainImage);
    if (HasFatalFailure()) return;
    dir_.WriteFile("hosts.yaml", "default_host: local\nhosts:\n  local:\n    address: unix://" +
                                     agent_->socket_path() +
                                     "\n    runtime: docker\n    env: {COUNT_SECONDS: '300', "
                                     "TRAIN_HOLD: '120'}\n");
  }

  // Starts `mlcube-remote ui` and returns the address it printed ("" on
  // failure, with the test failed).
  std::string StartUi() {
    ui_ = std::make_unique<BackgroundCommand>(Argv({"ui", Cube(), "--port=0"}),
                                              std::vector<std::string>{"HOME=" + dir_.path()});
    std::string url;
    EXPECT_TRUE(WaitUntil(
        [&] {
          const std::string out = ui_->OutputSoFar();
          const size_t at = out.find("dashboard at http://");
          if (at == std::string::npos || out.find('\n', at) == std::string::npos) return false;
          url = out.substr(at + 13, out.find('\n', at) - at - 13);
          return true;
        },
        30))
        << ui_->OutputSoFar();
    return url;
  }

  // The HTTP status curl gets for `url` with extra curl `args`.
  static std::string HttpStatus(const std::string& url, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/curl", "-s", "-o",
                                     "/dev/null",     "-w", "%{http_code}"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(url);
    return RunCommand(argv, {}, 30).out;
  }

  // Opens a session as a browser does, its cookie into `jar`; the request
  // token the redirect hands the page in its fragment ("" on failure).
  static std::string OpenSession(const std::string& url, const std::string& jar) {
    CommandResult exchanged = RunCommand(
        {"/usr/bin/curl", "-s", "-o", "/dev/null", "-c", jar, "-w", "%{redirect_url}", url}, {},
        30);
    const size_t at = exchanged.out.find("#csrf=");
    EXPECT_NE(at, std::string::npos) << exchanged.out;
    return at == std::string::npos ? "" : exchanged.out.substr(at + 6);
  }

  // A detached job of `task`; its id.
  std::string Detached(const std::string& task) {
    CommandResult submitted = Cli({"run", Cube(), "--task=" + task, "--detach"});
    EXPECT_EQ(submitted.exit_code, 0) << submitted.err;
    return submitted.out.substr(0, submitted.out.find('\n'));
  }

  std::unique_ptr<BackgroundCommand> ui_;
};

// Only the holder of the token gets in, only under the dashboard's own
// name; the session cookie alone (which a browser also sends to any other
// server on 127.0.0.1) opens no API, and a POST without the request token
// changes nothing.
TEST_F(DashboardEndToEndTest, RequestsWithoutTheTokenOrFromAnotherHostAreRefused) {
  const std::string url = StartUi();
  ASSERT_FALSE(url.empty());
  const std::string base = url.substr(0, url.find("/?token="));
  const std::string port = base.substr(base.rfind(':') + 1);
  EXPECT_EQ(HttpStatus(base + "/api/jobs", {}), "401");
  EXPECT_EQ(HttpStatus(base + "/?token=0123456789abcdef0123456789abcdef", {}), "401");
  EXPECT_EQ(HttpStatus(url, {"-H", "Host: attacker.example:" + port}), "403");
  const std::string jar = dir_.path() + "/cookies";
  const std::string token = OpenSession(url, jar);
  ASSERT_EQ(token.size(), 32u);
  EXPECT_EQ(HttpStatus(base + "/", {"-b", jar}), "200");
  EXPECT_EQ(HttpStatus(base + "/api/jobs", {"-b", jar}), "403");
  EXPECT_EQ(HttpStatus(base + "/api/jobs", {"-H", "X-CSRF-Token: " + token}), "401");
  EXPECT_EQ(HttpStatus(base + "/api/jobs", {"-b", jar, "-H", "X-CSRF-Token: " + token}), "200");
  EXPECT_EQ(HttpStatus(base + "/api/jobs", {"-b", jar, "-H", "X-CSRF-Token: " + token, "-H",
                                            "Host: attacker.example:" + port}),
            "403");
  const std::string job = Detached("count");
  std::string wrong = token;  // one hex digit off
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  EXPECT_EQ(HttpStatus(base + "/api/events?host=local&id=" + job + "&csrf=" + wrong, {"-b", jar}),
            "403");
  EXPECT_EQ(HttpStatus(base + "/api/cancel?host=local&id=" + job + "&csrf=" + token,
                       {"-b", jar, "-X", "POST"}),
            "403");
  CommandResult status = Cli({"status", job});
  EXPECT_THAT(status.out, ::testing::Not(HasSubstr("CANCELLED"))) << status.out;
  Cli({"cancel", job});
}

// A second dashboard cannot share the first one's port (the HTTP library
// would set SO_REUSEPORT by default).
TEST_F(DashboardEndToEndTest, ASecondDashboardOnTheSamePortIsRefused) {
  const std::string url = StartUi();
  ASSERT_FALSE(url.empty());
  const std::string base = url.substr(0, url.find("/?token="));
  const std::string port = base.substr(base.rfind(':') + 1);
  CommandResult second = Cli({"ui", Cube(), "--port=" + port}, 30);
  EXPECT_EQ(second.exit_code, 2) << second.out << second.err;
  EXPECT_THAT(second.err, HasSubstr("cannot listen on 127.0.0.1:" + port));
}

// Ctrl-C ends the dashboard promptly even while a job page follows a log
// that goes on; the job goes on too.
TEST_F(DashboardEndToEndTest, CtrlCStopsTheDashboardWhileALogIsFollowed) {
  const std::string url = StartUi();
  ASSERT_FALSE(url.empty());
  const std::string base = url.substr(0, url.find("/?token="));
  const std::string jar = dir_.path() + "/cookies";
  const std::string token = OpenSession(url, jar);
  const std::string job = Detached("count");
  BackgroundCommand follower({"/usr/bin/curl", "-s", "-N", "-b", jar,
                              base + "/api/events?host=local&id=" + job + "&csrf=" + token});
  ASSERT_TRUE(
      WaitUntil([&] { return follower.OutputSoFar().find("tick 2") != std::string::npos; }, 60))
      << follower.OutputSoFar();
  ASSERT_EQ(::kill(ui_->pid(), SIGINT), 0);
  CommandResult stopped = ui_->Wait(10);
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_THAT(Cli({"status", job}).out, HasSubstr("RUNNING"));
  Cli({"cancel", job});
}

TEST_F(DashboardEndToEndTest, TheBrowserFollowsALogCancelsReRunsDrawsSweepCurvesAndPulls) {
  for (const char* needed : {"/usr/bin/chromium", "/usr/bin/chromedriver"}) {
    ASSERT_EQ(::access(needed, X_OK), 0)
        << needed << " is missing: apt-get install chromium chromium-driver python3-selenium";
  }
  ASSERT_EQ(::mlcube_test::Shell("/usr/bin/python3 -c 'import selenium'"), 0)
      << "python3-selenium is missing: apt-get install python3-selenium";
  const std::string followed = Detached("count");
  const std::string greeted = Detached("greet");
  CommandResult sweep =
      Cli({"run", Cube(), "--task=train", "-P", std::string("docker.image=") + kTrainImage,
           "--repeat=2", "--parallel=2", "--metrics=metrics/log.jsonl", "--detach"});
  ASSERT_EQ(sweep.exit_code, 0) << sweep.err;
  std::string sweep_id;
  ASSERT_EQ(::mlcube_test::Shell("ls " + Workspace() + "/runs", &sweep_id), 0);
  sweep_id.erase(sweep_id.find_last_not_of('\n') + 1);
  const std::string url = StartUi();
  ASSERT_FALSE(url.empty());
  // MLCUBE_DASHBOARD_SCREENSHOTS keeps the screenshots (docs/screenshots).
  const char* keep = getenv("MLCUBE_DASHBOARD_SCREENSHOTS");
  const std::string shots = keep != nullptr ? keep : dir_.path();
  CommandResult checked = RunCommand(
      {"/usr/bin/python3", kCheckScript, "--url=" + url, "--host=local", "--job=" + followed,
       "--sweep=" + sweep_id, "--pull-job=" + greeted, "--runs=2", "--shots=" + shots},
      {"HOME=" + dir_.path()}, 240);
  EXPECT_EQ(checked.exit_code, 0) << checked.err << checked.out << "\nui:\n" << ui_->OutputSoFar();
  for (const char* page : {"jobs", "job", "hosts", "sweep"}) {
    EXPECT_EQ(::access((shots + "/ui-" + page + ".png").c_str(), R_OK), 0) << page;
  }
  EXPECT_EQ(::mlcube::testing::ReadFileContent(Workspace() + "/greetings/Alice.txt"),
            "Hello, Alice!\n");
  CommandResult status = Cli({"status", followed});
  EXPECT_THAT(status.out, HasSubstr("CANCELLED")) << status.out << status.err;
}

}  // namespace
}  // namespace mlcube
