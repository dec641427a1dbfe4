#include "agent/server/connection_limiter.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "agent/server/refused_connections.h"
#include "agent/server/tcp_listener.h"
#include "common/unique_fd.h"

namespace mlcube {
namespace {

// One end of a fresh socket pair (the other end is kept in `peers`).
int Socket(std::vector<UniqueFd>& peers) {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  peers.emplace_back(fds[1]);
  return fds[0];
}

TEST(ConnectionLimiterTest, CapsEachUidAndForgetsClosedConnections) {
  ConnectionLimiter limiter(ConnectionBudget{2, 100, 100, 4});
  std::vector<UniqueFd> peers;
  UniqueFd a(Socket(peers)), b(Socket(peers)), c(Socket(peers));
  EXPECT_TRUE(limiter.Admit(1000, a.get()).ok());
  EXPECT_TRUE(limiter.Admit(1000, b.get()).ok());
  const absl::Status over = limiter.Admit(1000, c.get());
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.message().find("limits.connections"), std::string::npos) << over;
  EXPECT_TRUE(limiter.Admit(2000, c.get()).ok());  // another uid
  a.Reset();                                       // one of uid 1000's ends
  UniqueFd d(Socket(peers));
  EXPECT_TRUE(limiter.Admit(1000, d.get()).ok());
  EXPECT_EQ(limiter.live(1000), 2);
}

TEST(ConnectionLimiterTest, AReusedDescriptorNumberIsANewConnection) {
  ConnectionLimiter limiter(ConnectionBudget{10, 100, 100, 4});
  std::vector<UniqueFd> peers;
  UniqueFd a(Socket(peers));
  const int number = a.get();
  ASSERT_TRUE(limiter.Admit(1000, number).ok());
  a.Reset();
  UniqueFd b(Socket(peers));
  ASSERT_EQ(b.get(), number);  // the lowest free number comes back
  ASSERT_TRUE(limiter.Admit(2000, b.get()).ok());
  EXPECT_EQ(limiter.live(1000), 0);
  EXPECT_EQ(limiter.live(2000), 1);
  EXPECT_EQ(limiter.Sweep(), 0);
  b.Reset();
  EXPECT_EQ(limiter.Sweep(), 1);
  EXPECT_EQ(limiter.total(), 0);
}

TEST(ConnectionLimiterTest, ReserveAdmitsOnlyUidsHoldingAlmostNone) {
  ConnectionLimiter limiter(ConnectionBudget{0, 2, 3, 1});
  std::vector<UniqueFd> peers;
  std::vector<UniqueFd> mine;
  for (int i = 0; i < 5; ++i) mine.emplace_back(Socket(peers));
  EXPECT_TRUE(limiter.Admit(1000, mine[0].get()).ok());
  EXPECT_TRUE(limiter.Admit(1000, mine[1].get()).ok());
  EXPECT_FALSE(limiter.Admit(1000, mine[2].get()).ok());  // past the budget
  EXPECT_TRUE(limiter.Admit(2000, mine[2].get()).ok());   // the reserve
  EXPECT_FALSE(limiter.Admit(3000, mine[3].get()).ok());  // the reserve is used up
}

// A TCP connection is charged to its address until its identity is known.
TEST(ConnectionLimiterTest, ReassignMovesAConnectionWithinTheNewPrincipalsCap) {
  ConnectionLimiter limiter(ConnectionBudget{2, 100, 100, 4});
  std::vector<UniqueFd> peers;
  UniqueFd a(Socket(peers)), b(Socket(peers)), c(Socket(peers));
  ASSERT_TRUE(limiter.Admit("address 10.0.0.1", a.get()).ok());
  ASSERT_TRUE(limiter.Admit("address 10.0.0.1", b.get()).ok());
  ASSERT_TRUE(limiter.Admit("address 10.0.0.2", c.get()).ok());
  EXPECT_TRUE(limiter.Reassign(a.get(), "cn-alice").ok());
  EXPECT_TRUE(limiter.Reassign(b.get(), "cn-alice").ok());
  EXPECT_EQ(limiter.live("address 10.0.0.1"), 0);
  EXPECT_EQ(limiter.live("cn-alice"), 2);
  const absl::Status over = limiter.Reassign(c.get(), "cn-alice");
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.message().find("cn-alice already has 2 connections"), std::string::npos) << over;
  EXPECT_FALSE(limiter.Remembers(c.get()));  // the caller ends it
  EXPECT_EQ(limiter.live("address 10.0.0.2"), 0);
  a.Reset();
  EXPECT_EQ(limiter.Reassign(a.get(), "cn-bob").code(), absl::StatusCode::kNotFound);
}

TEST(TcpPeerKeyTest, GrpcPeerStringsAndAcceptedAddressesAgree) {
  EXPECT_EQ(TcpPeerKey("ipv4:127.0.0.1:5000"), "127.0.0.1 5000");
  EXPECT_EQ(TcpPeerKey("ipv6:[::1]:5000"), "::1 5000");
  EXPECT_EQ(TcpPeerKey("ipv6:%5B::1%5D:5000"), "::1 5000");
  // An IPv4 client of a dual-stack socket, as either spelling.
  EXPECT_EQ(TcpPeerKey("ipv6:[::ffff:192.0.2.7]:443"), "192.0.2.7 443");
  EXPECT_EQ(TcpPeerKey("ipv6:[fe80::1%25eth0]:22"), "fe80::1 22");
  EXPECT_EQ(TcpPeerKey("fd:7"), "");
  EXPECT_EQ(TcpPeerKey("unix:/run/x.sock"), "");
  EXPECT_EQ(TcpPeerKey("ipv4:not-an-address:1"), "");
}

TEST(ConnectionLimiterTest, BudgetKeepsAnEighthOfTheDescriptors) {
  const ConnectionBudget budget = BudgetForDescriptors(256, 1024);
  EXPECT_EQ(budget.per_uid, 256);
  EXPECT_EQ(budget.total, 896);
  EXPECT_EQ(budget.hard_total, 960);
  EXPECT_EQ(BudgetForDescriptors(0, 100).total, 36);  // at least 64 kept
}

TEST(RefusedConnectionsTest, AnswersTheFirstCallWithUnavailableAndTheReason) {
  const std::string bytes = RefusalBytes(1, "too many: 100%");
  // SETTINGS ack, then HEADERS (END_STREAM|END_HEADERS) on stream 1.
  EXPECT_EQ(bytes.substr(0, 9), std::string("\0\0\0\x04\x01\0\0\0\0", 9));
  EXPECT_EQ(bytes.substr(12, 6), std::string("\x01\x05\0\0\0\x01", 6));
  EXPECT_NE(bytes.find(std::string("\x0bgrpc-status\x02"
                                   "14")),
            std::string::npos);
  EXPECT_NE(bytes.find("grpc-message\x10too many: 100%25"), std::string::npos);
  EXPECT_EQ(bytes.substr(bytes.size() - 17, 9), std::string("\0\0\x08\x07\0\0\0\0\0", 9));
}

}  // namespace
}  // namespace mlcube
