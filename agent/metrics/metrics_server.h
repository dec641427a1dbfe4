#ifndef MLCUBE_REMOTE_AGENT_METRICS_METRICS_SERVER_H_
#define MLCUBE_REMOTE_AGENT_METRICS_METRICS_SERVER_H_

// Serves `GET /metrics` in Prometheus' text format on the address an admin
// opted into (agent.yaml `metrics.listen`), on a thread of its own: plain
// HTTP/1.0 semantics (one request per connection, then close), read-only,
// no job ids or paths in it. Any other path is 404, any other method 405.
// A client gets 5 s to send its request and read the answer; requests are
// served one at a time (Prometheus scrapes one at a time).
//
// Not an HTTP library on purpose: one route needs a request line, and
// cpp-httplib (with the brotli libraries it pulls in) added 340 KiB to the
// resident size of every agent, metrics on or off.

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace mlcube {

class MetricsServer {
 public:
  using Collect = std::function<std::string()>;

  // Binds `address` ("HOST:PORT", "[V6]:PORT"; port 0 picks a free one) and
  // starts serving; INVALID_ARGUMENT naming metrics.listen for a bad one,
  // UNAVAILABLE when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& address,
                                                              Collect collect);
  ~MetricsServer();  // stops serving and joins its thread

  int port() const { return port_; }

 private:
  MetricsServer(UniqueFd listener, UniqueFd wake_read, UniqueFd wake_write, int port,
                Collect collect);
  void Loop();
  // Reads one request from `fd` and answers it.
  void Serve(int fd) const;

  UniqueFd listener_;
  UniqueFd wake_read_, wake_write_;  // a byte on the pipe ends Loop
  const int port_;
  const Collect collect_;
  std::thread thread_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_METRICS_METRICS_SERVER_H_
