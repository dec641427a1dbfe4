#ifndef MLCUBE_REMOTE_AGENT_ENGINE_CONTAINER_SESSION_H_
#define MLCUBE_REMOTE_AGENT_ENGINE_CONTAINER_SESSION_H_

// Runs one created container through the engine's API the way `docker run`
// does, without a client process: attach to its output, register a wait
// for its next exit, start it, relay the output until it ends, read the
// exit code. Attach and wait are in place before the start, so no output
// and no exit is missed, whatever the log driver, and a container created
// with --rm is removed by the engine after its exit was reported.

#include <functional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/engine/engine_connection.h"
#include "agent/engine/multiplexed_stream.h"

namespace mlcube {

class ContainerSession {
 public:
  // Attaches to `container` (an id or name, created and not started) at
  // the engine listening on `socket_path`, and registers the wait.
  // UNIMPLEMENTED, before touching the container, when the engine is
  // Podman (its compatible API starts a created container on attach).
  static absl::StatusOr<ContainerSession> Attach(const std::string& socket_path,
                                                 const std::string& container);

  // Starts the container. FAILED_PRECONDITION with the engine's message
  // when it refuses (no such executable, a mount it cannot make...).
  absl::Status Start();

  // Relays the container's output to `sink` until the stream ends (the
  // container exited). Whenever `stop_fd` turns readable the caller is
  // asked, through `on_stop`, to act (forward a signal); relaying goes on.
  absl::Status Relay(const MultiplexedStreamDecoder::Sink& sink, int stop_fd,
                     const std::function<void()>& on_stop);

  // The exit code the registered wait reports.
  absl::StatusOr<int> ExitCode();

  // Sends the container `signal` ("TERM", "KILL").
  absl::Status Signal(absl::string_view signal);

 private:
  ContainerSession(std::string socket_path, std::string container, bool tty,
                   EngineConnection attach, EngineResponseHead attach_head, EngineConnection wait,
                   EngineResponseHead wait_head)
      : socket_path_(std::move(socket_path)),
        container_(std::move(container)),
        tty_(tty),
        attach_(std::move(attach)),
        attach_head_(std::move(attach_head)),
        wait_(std::move(wait)),
        wait_head_(std::move(wait_head)) {}

  std::string socket_path_;
  std::string container_;
  bool tty_;
  EngineConnection attach_;
  EngineResponseHead attach_head_;
  EngineConnection wait_;
  EngineResponseHead wait_head_;
};

// Whether the engine answering on `socket_path` follows containers as
// ContainerSession needs: Docker does; Podman's compatible API does not
// (it starts a created container on attach). UNAVAILABLE when nothing
// answers there.
absl::StatusOr<bool> EngineFollowsCreatedContainers(const std::string& socket_path);

// Removes `container`, running or not (one whose start failed: --rm acts
// on exits only). OK when it is already gone.
absl::Status RemoveContainer(const std::string& socket_path, const std::string& container);

// The exit code `docker run` gives when the engine refuses to start a
// container with `message`: 127 when the command is not there, 126 when it
// cannot be run, else 125.
int StartFailureExitCode(absl::string_view message);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_ENGINE_CONTAINER_SESSION_H_
