#ifndef MLCUBE_REMOTE_AGENT_METRICS_METRICS_SERVER_H_
#define MLCUBE_REMOTE_AGENT_METRICS_METRICS_SERVER_H_

// Serves `GET /metrics` in Prometheus' text format on the address an admin
// opted into (agent.yaml `metrics.listen`), on a thread of its own: plain
// HTTP, read-only, no job ids or paths in it. Anything else is 404.

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

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
  MetricsServer() = default;

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_METRICS_METRICS_SERVER_H_
