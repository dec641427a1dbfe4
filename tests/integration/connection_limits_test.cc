// One uid's idle connections must not deny the agent to other callers
// (limits.connections): a real agent running as `mlcube`, a flooder running
// as `mlcube-install` that holds thousands of unix-socket connections, and
// root's GetInfo on fresh connections meanwhile, like `mlcube-remote hosts`.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"
#include "mlcube_remote/v1/agent.grpc.pb.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/latency_check.h"
#include "tests/support/temp_dir.h"

namespace mlcube_test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kCap = 256;
constexpr int kFlood = 3000;
// The agent gets as few descriptors as a default systemd service has, so
// that without a cap the flood exhausts them.
constexpr int kAgentFds = 1024;

// The flooder, run as another uid; it holds its connections until Release().
class Flooder {
 public:
  ~Flooder() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  bool Start(uid_t uid, gid_t gid, const std::string& socket, int count) {
    int out[2], hold[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(hold, O_CLOEXEC) != 0) return false;
    out_.Reset(out[0]);
    hold_.Reset(hold[1]);
    std::vector<std::string> args = {
        "/usr/bin/setpriv",   "--reuid=" + std::to_string(uid), "--regid=" + std::to_string(gid),
        "--clear-groups",     CONNECTION_FLOODER_BIN,           socket,
        std::to_string(count)};
    pid_ = fork();
    if (pid_ == 0) {
      dup2(hold[0], 0);
      dup2(out[1], 1);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    close(hold[0]);
    return pid_ > 0;
  }

  // The flooder's report (two lines), once it has every verdict; "" when it
  // gives none within `timeout`.
  std::string Report(std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::string text;
    while (std::count(text.begin(), text.end(), '\n') < 2) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      pollfd p = {out_.get(), POLLIN, 0};
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) return "";
      char buf[512];
      const ssize_t n = read(out_.get(), buf, sizeof(buf));
      if (n <= 0) return "";
      text.append(buf, static_cast<size_t>(n));
    }
    return text;
  }

  // Closes its stdin: it closes its connections and exits.
  void Release() {
    hold_.Reset();
    if (pid_ > 0) {
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
  mlcube::UniqueFd out_;
  mlcube::UniqueFd hold_;
};

long RssKb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// GetInfo on a fresh channel (a new connection), as `mlcube-remote hosts`
// does; the median of `n` calls, or a huge value when one fails.
std::chrono::microseconds MedianGetInfo(const AgentProcess& agent, int n) {
  std::vector<std::chrono::microseconds> times;
  for (int i = 0; i < n; ++i) {
    mlcube_remote::v1::Agent::Stub stub(agent.Channel());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    mlcube_remote::v1::GetInfoRequest req;
    mlcube_remote::v1::AgentInfo info;
    const auto start = Clock::now();
    const grpc::Status s = stub.GetInfo(&ctx, req, &info);
    if (!s.ok()) {
      ADD_FAILURE() << "GetInfo during the flood: " << s.error_message();
      return std::chrono::seconds(1000);
    }
    times.push_back(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

class ConnectionLimitsTest : public ::testing::Test {
 protected:
  // Starts an agent as `mlcube` with `config` and kAgentFds descriptors.
  void StartAgent(const std::string& config) {
    ASSERT_TRUE(LookupUser("mlcube-install", &flood_uid_, &flood_gid_));
    dir_.WriteFile("agent.yaml", config);
    ASSERT_EQ(
        Shell("chmod 755 '" + dir_.path() + "' && chmod 644 '" + dir_.path() + "/agent.yaml'"), 0);
    AgentProcessOptions options;
    options.user = "mlcube";
    options.max_open_files = kAgentFds;
    options.extra_args = {"--config=" + dir_.path() + "/agent.yaml"};
    agent_ = std::make_unique<AgentProcess>(options);
    ASSERT_TRUE(agent_->Start());
  }

  // Waits (10 s at most) until the agent has at most `fds` descriptors open.
  bool AgentFdsDropTo(int fds) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (OpenFds(agent_->pid()) > fds) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return true;
  }

  // GetInfo as the flooding uid, on a connection of its own: what the
  // client printed; a failure when the call succeeded.
  std::string FloodUidsGetInfo() {
    std::string out;
    EXPECT_NE(Shell("/usr/bin/setpriv --reuid=" + std::to_string(flood_uid_) +
                        " --regid=" + std::to_string(flood_gid_) + " --clear-groups timeout 10 " +
                        AGENT_TEST_CLIENT_BIN + " " + agent_->socket_path(),
                    &out),
              0);
    std::cout << "the flooding uid's GetInfo: " << out;
    return out;
  }

  mlcube::testing::TempDir dir_;
  std::unique_ptr<AgentProcess> agent_;
  uid_t flood_uid_ = 0;
  gid_t flood_gid_ = 0;
};

TEST_F(ConnectionLimitsTest, OneUidsFloodLeavesOthersServedQuickly) {
  ASSERT_NO_FATAL_FAILURE(StartAgent("limits: {connections: " + std::to_string(kCap) + "}\n"));
  const AgentProcess& agent = *agent_;
  const auto idle = MedianGetInfo(agent, 15);
  const int fds_before = OpenFds(agent.pid());
  const long rss_before = RssKb(agent.pid());

  Flooder flooder;
  ASSERT_TRUE(flooder.Start(flood_uid_, flood_gid_, agent.socket_path(), kFlood));
  const std::string report = flooder.Report(std::chrono::seconds(15));
  ASSERT_FALSE(report.empty()) << "the flooder gave no report";
  EXPECT_EQ(report.substr(0, report.find('\n')),
            "accepted " + std::to_string(kCap) + " refused " + std::to_string(kFlood - kCap) +
                " unanswered 0 connected " + std::to_string(kFlood));

  // A real client of the flooding uid over its cap is told why.
  EXPECT_NE(FloodUidsGetInfo().find("limits.connections"), std::string::npos);

  const auto during = MedianGetInfo(agent, 15);
  const int fds_during = OpenFds(agent.pid());
  const long rss_during = RssKb(agent.pid());
  // The cap's connections, and at most 64 refused ones kept for a second.
  EXPECT_LE(fds_during, fds_before + kCap + 64 + 16);
  EXPECT_LE(during.count(), 2 * idle.count())
      << "GetInfo took " << during.count() << " us during the flood, " << idle.count()
      << " us before";

  flooder.Release();
  EXPECT_TRUE(AgentFdsDropTo(fds_before + 16));
  const long rss_after = RssKb(agent.pid());
  RecordProperty("getinfo_idle_us", static_cast<int>(idle.count()));
  RecordProperty("getinfo_during_flood_us", static_cast<int>(during.count()));
  RecordProperty("rss_kb_before", static_cast<int>(rss_before));
  RecordProperty("rss_kb_during", static_cast<int>(rss_during));
  RecordProperty("rss_kb_after", static_cast<int>(rss_after));
  std::cout << "GetInfo median: idle " << idle.count() << " us, flood " << during.count()
            << " us; agent fds " << fds_before << " -> " << fds_during << "; RSS KB " << rss_before
            << " -> " << rss_during << " -> " << rss_after << "\n";
}

// Without a per-uid cap the descriptors kept from connections still let a
// new identity in.
TEST_F(ConnectionLimitsTest, ReserveAdmitsOthersWithoutPerUidCap) {
  ASSERT_NO_FATAL_FAILURE(StartAgent("limits: {connections: 0}\n"));
  Flooder flooder;
  ASSERT_TRUE(flooder.Start(flood_uid_, flood_gid_, agent_->socket_path(), kFlood));
  const std::string report = flooder.Report(std::chrono::seconds(15));
  ASSERT_FALSE(report.empty()) << "the flooder gave no report";
  EXPECT_NE(report.find(" unanswered 0 connected " + std::to_string(kFlood)), std::string::npos)
      << report;
  EXPECT_NE(FloodUidsGetInfo().find("connections open, all it keeps descriptors for"),
            std::string::npos);
  EXPECT_LE(OpenFds(agent_->pid()), kAgentFds - 32);
  MedianGetInfo(*agent_, 3);  // fails the test when a call fails
}

// Connections that make no call are closed after
// limits.idle_connection_seconds, even while the client holds them.
TEST_F(ConnectionLimitsTest, IdleConnectionsAreClosed) {
  ASSERT_NO_FATAL_FAILURE(StartAgent("limits: {idle_connection_seconds: 1}\n"));
  const int fds_before = OpenFds(agent_->pid());
  Flooder flooder;
  ASSERT_TRUE(flooder.Start(flood_uid_, flood_gid_, agent_->socket_path(), 50));
  ASSERT_FALSE(flooder.Report(std::chrono::seconds(15)).empty());
  EXPECT_TRUE(AgentFdsDropTo(fds_before + 2)) << OpenFds(agent_->pid()) << " fds open";
}

}  // namespace
}  // namespace mlcube_test
