// One caller's TCP connections must not deny a shared agent to the others
// (limits.connections over mutual TLS): a real agent with as few
// descriptors as a default systemd service, and meanwhile bob's GetInfo on
// fresh TLS connections, as `mlcube-remote hosts` makes it.
//  - alice holds many TLS connections, each of which made one call and
//    idles: she is charged per certificate identity;
//  - someone holds many TCP connections that never start a TLS handshake:
//    nobody knows whose they are, so they are charged to their source
//    address and closed when they make no call in time.

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"
#include "mlcube_remote/v1/agent.grpc.pb.h"
#include "tests/integration/latency_check.h"
#include "tests/integration/two_identity_agent.h"

namespace mlcube_test {
namespace {

namespace v1 = ::mlcube_remote::v1;
using Clock = std::chrono::steady_clock;

constexpr int kCap = 64;
constexpr int kFlood = 1500;
// Fewer than the flood: without the caps the agent runs out.
constexpr int kAgentFds = 1024;
// Sub-millisecond calls on two shared cores: see latency_check.h.
constexpr std::chrono::microseconds kFloor = std::chrono::milliseconds(3);

class TcpConnectionLimitsTest : public ::testing::Test {
 protected:
  // The agent's config; a test fixture of its own may change it.
  virtual std::string Config() const {
    return "limits: {connections: " + std::to_string(kCap) + "}\n";
  }

  void SetUp() override {
    // This process holds the flood's client ends.
    struct rlimit limit {};
    getrlimit(RLIMIT_NOFILE, &limit);
    ASSERT_GE(limit.rlim_max, static_cast<rlim_t>(kFlood + 512)) << "ulimit -Hn is too low";
    limit.rlim_cur = limit.rlim_max;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
    agents_ = std::make_unique<TwoIdentityAgent>(Config());
    agents_->set_max_open_files(kAgentFds);
    ASSERT_TRUE(agents_->Start());
  }

  // GetInfo as `user` on a connection of its own; the status.
  grpc::Status GetInfo(const std::string& user) {
    auto stub = v1::Agent::NewStub(agents_->Channel(user, /*own_connection=*/true));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::AgentInfo info;
    return stub->GetInfo(&ctx, v1::GetInfoRequest(), &info);
  }

  std::chrono::microseconds BobsMedianGetInfo() {
    return MedianLatency("bob's GetInfo", 15, [this] {
      const grpc::Status s = GetInfo("bob");
      if (!s.ok()) std::cout << "bob's GetInfo: " << s.error_message() << "\n";
      return s.ok();
    });
  }

  // Waits (`timeout` at most) until the agent holds at most `fds`.
  bool AgentFdsDropTo(int fds, std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (OpenFds(agents_->agent().pid()) > fds) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return true;
  }

  std::unique_ptr<TwoIdentityAgent> agents_;
};

TEST_F(TcpConnectionLimitsTest, OneIdentitysIdleTlsConnectionsLeaveOthersServedQuickly) {
  const auto idle = BobsMedianGetInfo();
  const int fds_before = OpenFds(agents_->agent().pid());

  // alice: one call on each of her connections, then she holds them all.
  // She stops when the agent answers no more (out of descriptors).
  std::vector<std::shared_ptr<grpc::Channel>> held;
  int answered = 0, unanswered = 0;
  for (int i = 0; i < kFlood && unanswered < 3; ++i) {
    held.push_back(agents_->Channel("alice", /*own_connection=*/true));
    auto stub = v1::Agent::NewStub(held.back());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    v1::AgentInfo info;
    const grpc::Status s = stub->GetInfo(&ctx, v1::GetInfoRequest(), &info);
    answered += s.ok() ? 1 : 0;
    unanswered += s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ? 1 : 0;
  }
  EXPECT_GE(answered, kCap);
  // Her connections past the cap are closed as soon as they are hers.
  EXPECT_TRUE(AgentFdsDropTo(fds_before + kCap + 16, std::chrono::seconds(10)))
      << OpenFds(agents_->agent().pid()) << " fds open, " << fds_before << " before";
  const grpc::Status alices = GetInfo("alice");
  EXPECT_EQ(alices.error_code(), grpc::StatusCode::UNAVAILABLE) << alices.error_message();

  const auto during = BobsMedianGetInfo();
  EXPECT_TRUE(WithinTwiceIdle(idle, during, kFloor))
      << "bob's GetInfo took " << during.count() << " us during alice's flood, " << idle.count()
      << " us idle";
  std::cout << "bob's GetInfo median: idle " << idle.count() << " us, alice flooding "
            << during.count() << " us; alice's connections " << held.size() << ", calls answered "
            << answered << "\n";
  RecordProperty("getinfo_idle_us", static_cast<int>(idle.count()));
  RecordProperty("getinfo_during_flood_us", static_cast<int>(during.count()));

  held.clear();
  EXPECT_TRUE(AgentFdsDropTo(fds_before + 16, std::chrono::seconds(10)));
}

// Connects from 127.0.0.2 (another source address than the test's
// clients) and sends nothing; the sockets are kept open.
std::vector<mlcube::UniqueFd> SilentConnections(int port, int count) {
  std::vector<mlcube::UniqueFd> fds;
  for (int i = 0; i < count; ++i) {
    mlcube::UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in from{}, to{};
    from.sin_family = to.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.2", &from.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    to.sin_port = htons(static_cast<uint16_t>(port));
    if (!fd || bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0 ||
        connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
      ADD_FAILURE() << "connect " << i << ": " << strerror(errno);
      break;
    }
    fds.push_back(std::move(fd));
  }
  return fds;
}

TEST_F(TcpConnectionLimitsTest, ConnectionsWithoutAHandshakeAreCappedPerAddressAndClosed) {
  const auto idle = BobsMedianGetInfo();
  const int fds_before = OpenFds(agents_->agent().pid());
  std::vector<mlcube::UniqueFd> silent = SilentConnections(agents_->agent().TcpPort(), kFlood);
  ASSERT_EQ(silent.size(), static_cast<size_t>(kFlood));
  // Past the cap of their address they are closed at accept.
  EXPECT_TRUE(AgentFdsDropTo(fds_before + kCap + 16, std::chrono::seconds(10)))
      << OpenFds(agents_->agent().pid()) << " fds open, " << fds_before << " before";
  const auto during = BobsMedianGetInfo();
  EXPECT_TRUE(WithinTwiceIdle(idle, during, kFloor))
      << "bob's GetInfo took " << during.count() << " us during the flood, " << idle.count()
      << " us idle";
  std::cout << "bob's GetInfo median: idle " << idle.count() << " us, silent flood "
            << during.count() << " us\n";
  // The rest are closed once they have had 10 s for a first call.
  EXPECT_TRUE(AgentFdsDropTo(fds_before + 16, std::chrono::seconds(30)))
      << OpenFds(agents_->agent().pid()) << " fds open, " << fds_before << " before";
}

// Unix-socket connections of this process (uid 0), kept open.
std::vector<mlcube::UniqueFd> UnixConnections(const std::string& path, int count) {
  std::vector<mlcube::UniqueFd> fds;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  for (int i = 0; i < count; ++i) {
    mlcube::UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd || connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ADD_FAILURE() << "connect " << i << ": " << strerror(errno);
      break;
    }
    fds.push_back(std::move(fd));
  }
  return fds;
}

// Without per-caller caps only the shared descriptor budget stands between
// two floods at once (a uid on the unix socket, an address on TCP) and the
// agent's last descriptor: both listeners count against one budget, so bob,
// holding none, still gets in.
class NoPerCallerCapTest : public TcpConnectionLimitsTest {
 protected:
  std::string Config() const override { return "limits: {connections: 0}\n"; }
};

TEST_F(NoPerCallerCapTest, FloodsOnTwoListenersShareOneDescriptorBudget) {
  const auto idle = BobsMedianGetInfo();
  std::vector<mlcube::UniqueFd> unix_flood = UnixConnections(agents_->agent().socket_path(), 1100);
  std::vector<mlcube::UniqueFd> tcp_flood = SilentConnections(agents_->agent().TcpPort(), kFlood);
  const auto during = BobsMedianGetInfo();
  EXPECT_TRUE(WithinTwiceIdle(idle, during, kFloor))
      << "bob's GetInfo took " << during.count() << " us during the floods, " << idle.count()
      << " us idle";
  EXPECT_LE(OpenFds(agents_->agent().pid()), kAgentFds - 32);
  std::cout << "bob's GetInfo median: idle " << idle.count() << " us, both floods "
            << during.count() << " us; agent fds " << OpenFds(agents_->agent().pid()) << "\n";
}

}  // namespace
}  // namespace mlcube_test
