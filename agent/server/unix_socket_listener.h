#ifndef MLCUBE_REMOTE_AGENT_SERVER_UNIX_SOCKET_LISTENER_H_
#define MLCUBE_REMOTE_AGENT_SERVER_UNIX_SOCKET_LISTENER_H_

// Listens on a unix socket and hands every accepted connection to a running
// grpc::Server with AddInsecureChannelFromFd. We accept ourselves (instead of
// letting gRPC listen on unix:) so each connection is a socket fd we know:
// gRPC names such a peer "fd:N", and CallerIdentity reads SO_PEERCRED from it.
//
// Each connection is admitted by a ConnectionLimiter (shared by every
// listener; not owned, it must outlive this) for its peer's uid
// (limits.connections). One over the limit is refused at once: its first
// call fails with UNAVAILABLE saying why, and the socket is closed within a
// second (RefusedConnections), so one uid cannot take the descriptors every
// other caller needs.
// After many connections have ended the listener returns freed heap to the
// system (malloc_trim), so a flood does not leave the agent large.

#include <grpcpp/server.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "agent/server/connection_limiter.h"
#include "agent/server/refused_connections.h"

namespace mlcube {

class UnixSocketListener {
 public:
  // `mode` and `group` (-1: the agent's own) of the socket file decide who
  // may connect at all; they are set before listen(), so there is no moment
  // where the socket is more open than configured.
  explicit UnixSocketListener(std::string path, mode_t mode = 0666,
                              gid_t group = static_cast<gid_t>(-1),
                              ConnectionLimiter* limiter = nullptr);
  ~UnixSocketListener();  // stops accepting and removes the socket file
  UnixSocketListener(const UnixSocketListener&) = delete;
  UnixSocketListener& operator=(const UnixSocketListener&) = delete;

  // Binds and listens. A stale socket file nobody listens on is replaced;
  // a live one is an error (another agent runs). By default the socket is
  // mode 0666: every local user may connect and is identified by uid.
  absl::Status Bind();

  // Starts the accept thread; `server` must be started and outlive Stop().
  absl::Status Start(grpc::Server* server);

  void Stop();

  const std::string& path() const { return path_; }

 private:
  void AcceptLoop();
  void AcceptOne();
  // Forgets ended connections; trims the heap after a wave of them ended.
  void Housekeep();

  std::string path_;
  mode_t mode_;
  gid_t group_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd that ends AcceptLoop
  grpc::Server* server_ = nullptr;
  ConnectionLimiter* limiter_;  // shared with the agent's other listeners
  RefusedConnections refused_;  // used by the accept thread only
  bool trim_pending_ = false;
  std::chrono::steady_clock::time_point last_housekeeping_;
  std::thread thread_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SERVER_UNIX_SOCKET_LISTENER_H_
