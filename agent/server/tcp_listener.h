#ifndef MLCUBE_REMOTE_AGENT_SERVER_TCP_LISTENER_H_
#define MLCUBE_REMOTE_AGENT_SERVER_TCP_LISTENER_H_

// Listens on a TCP address ("HOST:PORT") and hands every accepted
// connection to a running grpc::Server through an ExternalConnectionAcceptor,
// which runs the TLS handshake with the server's credentials exactly as a
// listening port of gRPC's own would. We accept ourselves so that each
// connection is charged to a principal of a ConnectionLimiter
// (limits.connections), as unix-socket connections are to their uid:
//
// - Until its first call a connection is charged to its source address
//   ("address 192.0.2.7"): the client's identity is known only after the TLS
//   handshake. An address holds at most `connections` such connections at
//   once (more are closed at accept), and one that has made no call within
//   `first_call_deadline` of being accepted (handshake included) is shut
//   down, so a pre-handshake flood holds a bounded number of descriptors for
//   a bounded time.
// - From its first call on it is charged to the caller's identity ("cn-NAME";
//   "uid-N" for plain loopback TCP), which a gRPC interceptor reports through
//   OnCall. A connection past that identity's cap is shut down at once: the
//   call and the connection fail with UNAVAILABLE (a TLS client cannot be
//   told why in-band before its handshake; after it, the call is gRPC's).
//
// Descriptor headroom is the ConnectionLimiter's: past the total budget
// only principals holding next to no connections get in.
//
// Thread-safe: the accept thread and gRPC's threads (OnCall) share the
// tables under one mutex. The limiter is shared with the other listeners, so
// a descriptor number in the tables is checked to still be the socket it
// was (its inode) before the listener acts on it.

#include <grpcpp/server_builder.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agent/server/connection_limiter.h"

namespace mlcube {

// "ADDRESS PORT" of a gRPC peer string ("ipv4:127.0.0.1:5000",
// "ipv6:[::1]:5000", "ipv6:%5B::1%5D:5000"), IPv4-mapped IPv6 addresses
// written as IPv4; empty when `peer` is no TCP peer. Exposed for tests.
std::string TcpPeerKey(const std::string& peer);

class TcpListener {
 public:
  using Clock = std::chrono::steady_clock;

  // `limiter` is shared with the agent's other listeners and must outlive
  // this listener.
  TcpListener(std::string address, ConnectionLimiter* limiter, Clock::duration first_call_deadline);
  ~TcpListener();  // stops accepting
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  // Binds every address HOST resolves to (one port for all; port 0 picks
  // one) and listens.
  absl::Status Bind();
  int port() const { return port_; }

  // Starts the accept thread. `acceptor` (ServerBuilder::experimental().
  // AddExternalConnectionAcceptor) must belong to a started server and
  // outlive Stop().
  absl::Status Start(grpc::experimental::ExternalConnectionAcceptor* acceptor);
  void Stop();

  // A call arrived from `peer` (ServerContext::peer()). On a connection of
  // this listener that made no call before, `identify` is asked who the
  // caller is and the connection is charged to that identity, or shut down
  // when the identity is past its cap. Cheap for later calls.
  void OnCall(const std::string& peer,
              const std::function<absl::StatusOr<std::string>()>& identify);

 private:
  struct Connection {
    std::string peer_key;
    ino_t ino = 0;  // of the socket: the number may be another's later
    Clock::time_point admitted;
    bool identified = false;
  };
  void AcceptLoop();
  void AcceptOne(int listen_fd);
  // Forgets ended connections; shuts down those without a call in time.
  void Housekeep();
  // Drops the tables' entries of `fd` (and the limiter's); shuts it down.
  void EndLocked(int fd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ForgetLocked(int fd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string address_;
  const Clock::duration first_call_deadline_;
  std::vector<int> listen_fds_;
  int port_ = 0;
  int wake_fd_ = -1;  // eventfd that ends AcceptLoop
  grpc::experimental::ExternalConnectionAcceptor* acceptor_ = nullptr;
  std::thread thread_;

  ConnectionLimiter* const limiter_;
  absl::Mutex mu_;
  std::map<int, Connection> connections_ ABSL_GUARDED_BY(mu_);  // by fd
  std::map<std::string, int> fd_of_peer_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SERVER_TCP_LISTENER_H_
