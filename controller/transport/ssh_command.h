#ifndef MLCUBE_REMOTE_CONTROLLER_TRANSPORT_SSH_COMMAND_H_
#define MLCUBE_REMOTE_CONTROLLER_TRANSPORT_SSH_COMMAND_H_

// One command run on an SSH host, as `ssh HOST COMMAND < input` runs it:
// through the user's login shell, stdin fed from a string or a local file and
// then closed, stdout and stderr collected (each capped, so a hostile host
// cannot make the controller's memory grow), and the exit status.
//
// The session must be in blocking mode, not driven by an event loop (use a
// fresh SshSession, not one an SshTunnel owns).

#include <string>

#include "absl/status/statusor.h"
#include "controller/transport/ssh_session.h"

namespace mlcube {

struct SshCommandResult {
  int exit_status = -1;  // -1: the host sent none (killed by a signal)
  std::string out;
  std::string err;
};

struct SshCommandInput {
  std::string text;       // written first
  std::string file_path;  // then this file's bytes, when not empty
};

// Errors: UNAVAILABLE (channel or connection failed), NOT_FOUND (the input
// file cannot be read). A non-zero exit status is not an error.
absl::StatusOr<SshCommandResult> RunSshCommand(SshSession& session, const std::string& command,
                                               const SshCommandInput& input = {});

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_TRANSPORT_SSH_COMMAND_H_
