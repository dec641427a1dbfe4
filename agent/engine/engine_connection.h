#ifndef MLCUBE_REMOTE_AGENT_ENGINE_ENGINE_CONNECTION_H_
#define MLCUBE_REMOTE_AGENT_ENGINE_ENGINE_CONNECTION_H_

// One HTTP exchange with a container engine's API on its unix socket
// (Docker's /var/run/docker.sock, or Podman's Docker-compatible service).
//
// Hand-written rather than libcurl: the engine's attach endpoint hijacks the
// connection and streams raw frames after its response head, which libcurl
// can only hand over through CURLOPT_CONNECT_ONLY, i.e. with the request
// written by us anyway; every other call here is a bodyless POST or GET
// whose body ends when the engine closes the connection (HTTP/1.0).

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/unique_fd.h"

namespace mlcube {

// The status line and headers of a response, and the bytes of its body (or
// of the hijacked stream) that arrived with them.
struct EngineResponseHead {
  int status = 0;
  std::string headers;  // raw, without the status line
  std::string body_start;
};

class EngineConnection {
 public:
  // Connects to the unix socket at `socket_path`. `io_timeout` bounds each
  // read and write (absl::InfiniteDuration(): none, for a stream followed
  // as long as a task runs).
  static absl::StatusOr<EngineConnection> Open(const std::string& socket_path,
                                               absl::Duration io_timeout);

  // Sends `METHOD PATH` as HTTP/1.0 (the engine closes the connection after
  // the body) and reads the response head. `path` must already be escaped.
  absl::StatusOr<EngineResponseHead> Exchange(absl::string_view method, absl::string_view path);

  // Sends `POST PATH` asking to upgrade the connection to a raw stream (as
  // `docker attach` does) and reads the response head: 101, or 200 from
  // engines that hijack without saying so.
  absl::StatusOr<EngineResponseHead> Upgrade(absl::string_view path);

  // The rest of the body, after `head.body_start`, up to EOF; at most
  // `max_bytes` (a larger body is an error).
  absl::StatusOr<std::string> ReadRest(const EngineResponseHead& head, size_t max_bytes);

  // Bounds each later read and write (absl::InfiniteDuration(): none).
  void SetTimeout(absl::Duration io_timeout);

  // Reads what is there (blocking until something is); 0 at EOF.
  ssize_t ReadSome(char* buffer, size_t size);

  int fd() const { return fd_.get(); }

 private:
  explicit EngineConnection(UniqueFd fd) : fd_(std::move(fd)) {}
  absl::Status SendAll(absl::string_view bytes);
  absl::StatusOr<EngineResponseHead> ReadHead();

  UniqueFd fd_;
};

// The `message` of an engine's JSON error body ({"message":"..."}), or the
// body itself, shortened, when it has none.
std::string EngineErrorMessage(absl::string_view body);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_ENGINE_ENGINE_CONNECTION_H_
