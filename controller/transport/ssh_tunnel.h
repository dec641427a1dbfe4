#ifndef MLCUBE_REMOTE_CONTROLLER_TRANSPORT_SSH_TUNNEL_H_
#define MLCUBE_REMOTE_CONTROLLER_TRANSPORT_SSH_TUNNEL_H_

// Carries gRPC to a remote agent over the user's own SSH access, so no agent
// port is open to the network and the agent sees the SSH user's uid.
//
// The tunnel listens on a private unix socket (in a 0700 temp dir) that the
// gRPC channel connects to; every connection gRPC makes becomes one SSH
// channel: direct-streamlocal to the agent's unix socket ("/run/...sock"), or
// direct-tcpip to its loopback port ("127.0.0.1:7443"). One pump thread owns
// the libssh session (libssh is not thread-safe) and moves bytes both ways,
// honouring the SSH window so a slow side never makes memory grow. A dropped
// SSH connection is re-established when gRPC reconnects.

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "controller/transport/host_address.h"
#include "controller/transport/ssh_session.h"

namespace mlcube {

class SshTunnel {
 public:
  struct Options {
    SshSettings ssh;
    // Replaces ~/.ssh when not empty (tests; $MLCUBE_REMOTE_SSH_DIR).
    std::string ssh_dir;
    // The agent's unix socket ("/path") or loopback TCP address ("HOST:PORT").
    std::string remote;
    // When `remote` is empty: asked once, on the first connected session
    // (blocking mode, before any channel), for the remote address (the
    // user's own agent, whose socket lives under their home).
    std::function<absl::StatusOr<std::string>(SshSession&)> resolve_remote;
  };

  // Connects, authenticates and checks that the agent's socket can be
  // reached, so every error shows here with a clear message rather than as a
  // bare UNAVAILABLE on the first call.
  static absl::StatusOr<std::unique_ptr<SshTunnel>> Open(Options options);
  // Stops the pump, closes every channel and the session, removes the socket.
  ~SshTunnel();
  SshTunnel(const SshTunnel&) = delete;
  SshTunnel& operator=(const SshTunnel&) = delete;

  // What grpc::CreateChannel takes: "unix:///tmp/mlcube-ssh-XXXXXX/proxy.sock".
  std::string grpc_target() const { return "unix://" + socket_path_; }
  const std::string& description() const { return description_; }

 private:
  struct Link;
  explicit SshTunnel(Options options);

  absl::Status Listen();
  // Opens the SSH channel to the agent, blocking up to the SSH timeout.
  absl::StatusOr<ssh_channel> OpenChannel();
  void Pump();
  void Accept();
  // Moves what it can in both directions; false once the link is finished.
  bool Service(Link& link);
  void CloseAllLinks();

  Options options_;
  std::string description_;
  std::unique_ptr<SshSession> session_;  // pump thread only, once started
  std::string dir_;                      // private 0700 directory
  std::string socket_path_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: tells the pump to stop
  std::vector<std::unique_ptr<Link>> links_;
  std::thread pump_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_TRANSPORT_SSH_TUNNEL_H_
