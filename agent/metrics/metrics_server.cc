#include "agent/metrics/metrics_server.h"

#include <httplib.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mlcube {
namespace {

// "HOST:PORT" or "[V6]:PORT" -> host and port.
bool SplitAddress(const std::string& address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = address.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return absl::SimpleAtoi(address.substr(colon + 1), port) && *port >= 0 && *port <= 65535;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& address,
                                                                    Collect collect) {
  std::string host;
  int port = 0;
  if (!SplitAddress(address, &host, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics.listen: expected HOST:PORT, got '", address, "'"));
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  try {
    server->server_ = std::make_unique<httplib::Server>();
    // Prometheus scrapes one request at a time: two workers are plenty.
    server->server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
    server->server_->Get("/metrics", [collect](const httplib::Request&, httplib::Response& res) {
      res.set_content(collect(), "text/plain; version=0.0.4; charset=utf-8");
    });
    server->port_ = port == 0 ? server->server_->bind_to_any_port(host)
                              : (server->server_->bind_to_port(host, port) ? port : -1);
    if (server->port_ <= 0) {
      return absl::UnavailableError(absl::StrCat("metrics.listen: cannot listen on ", address));
    }
    httplib::Server* raw = server->server_.get();
    server->thread_ = std::thread([raw] { raw->listen_after_bind(); });
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("metrics.listen: ", address, ": ", e.what()));
  }
  return server;
}

MetricsServer::~MetricsServer() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace mlcube
