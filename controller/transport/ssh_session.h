#ifndef MLCUBE_REMOTE_CONTROLLER_TRANSPORT_SSH_SESSION_H_
#define MLCUBE_REMOTE_CONTROLLER_TRANSPORT_SSH_SESSION_H_

// One authenticated SSH connection made with libssh, as the user's own `ssh`
// would make it:
// - ~/.ssh/config is honoured (aliases, HostName, Port, User, IdentityFile),
//   explicit hosts-file settings win over it;
// - the host key is checked against known_hosts strictly: an unknown host is
//   an error that says how to accept its key, a changed key is refused (there
//   is no "accept anyway" switch: that is the hole MLCube's SSH runner had);
// - keys come from ssh-agent first, then the identity file and the default
//   keys (~/.ssh/id_ed25519, id_ecdsa, id_rsa).
//
// libssh sessions are not thread-safe: after Connect, exactly one thread may
// use the session (SshTunnel's pump thread).

#include <libssh/libssh.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "controller/transport/host_address.h"

namespace mlcube {

class SshSession {
 public:
  // `ssh_dir` replaces ~/.ssh (config, known_hosts, default keys) when not
  // empty. Errors: UNAVAILABLE (cannot connect), FAILED_PRECONDITION (host
  // key unknown: the message says how to accept it), PERMISSION_DENIED (host
  // key changed, or every key refused).
  static absl::StatusOr<std::unique_ptr<SshSession>> Connect(const SshSettings& settings,
                                                             const std::string& ssh_dir);
  ~SshSession();
  SshSession(const SshSession&) = delete;
  SshSession& operator=(const SshSession&) = delete;

  ssh_session get() const { return session_; }
  // "user@host:port", for messages.
  const std::string& description() const { return description_; }

  // Switches to non-blocking mode and registers the session with an event
  // loop, so ProcessIo() can read and write the socket regardless of which
  // channel the data belongs to.
  absl::Status StartEventLoop();
  // The socket to poll(), and whether libssh has output waiting for it.
  int fd() const;
  bool WantsWrite() const;
  // Reads and writes what the socket allows without blocking, dispatching
  // incoming packets to their channels.
  absl::Status ProcessIo();
  bool Connected() const;

 private:
  explicit SshSession(ssh_session session) : session_(session) {}
  // The steps of Connect: options (hosts-file settings over ~/.ssh/config),
  // the strict known_hosts check, key authentication.
  absl::Status SetOptions(const SshSettings& settings, const std::string& ssh_dir);
  absl::Status CheckHostKey();
  absl::Status Authenticate(const SshSettings& settings);

  ssh_session session_;
  std::string user_;
  std::string host_;
  unsigned port_ = 22;
  ssh_event event_ = nullptr;
  bool broken_ = false;  // an I/O error was seen: make a new session
  std::string description_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_TRANSPORT_SSH_SESSION_H_
