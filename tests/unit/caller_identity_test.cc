#include "agent/server/caller_identity.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace mlcube {
namespace {

TEST(CallerIdentityTest, UnixSocketPeerIsItsUid) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  auto identity = CallerIdentityFromPeer("fd:" + std::to_string(fds[0]));
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(*identity, "uid-" + std::to_string(getuid()));
  close(fds[0]);
  close(fds[1]);
}

TEST(CallerIdentityTest, AnythingElseIsUnauthenticated) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  for (const std::string& peer :
       {std::string("fd:") + std::to_string(pipe_fds[0]),  // not a socket
        std::string("fd:-1"), std::string("fd:x"), std::string("unix:/run/x.sock"),
        std::string("ipv4:10.1.2.3:5000"), std::string("ipv6:[2001:db8::1]:5000"),
        std::string("ipv4:127.0.0.1:1"),  // loopback, but no such connection
        std::string("")}) {
    auto identity = CallerIdentityFromPeer(peer);
    EXPECT_EQ(identity.status().code(), absl::StatusCode::kUnauthenticated) << peer;
  }
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

}  // namespace
}  // namespace mlcube
