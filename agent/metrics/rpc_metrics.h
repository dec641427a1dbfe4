#ifndef MLCUBE_REMOTE_AGENT_METRICS_RPC_METRICS_H_
#define MLCUBE_REMOTE_AGENT_METRICS_RPC_METRICS_H_

// gRPC calls the agent handled, in go-grpc-prometheus' names, so existing
// dashboards work: grpc_server_started_total and grpc_server_handled_total
// by type, service, method (and code), grpc_server_msg_received_total and
// grpc_server_msg_sent_total. Plus the bytes of sync traffic (the content
// store and workspace services): mlcube_agent_sync_received_bytes_total and
// mlcube_agent_sync_sent_bytes_total, as serialized on the wire.
// RpcMetrics::InterceptorFactory feeds it from every call; thread-safe.

#include <grpcpp/support/server_interceptor.h>

#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "absl/synchronization/mutex.h"
#include "agent/metrics/exposition.h"

namespace mlcube {

class RpcMetrics {
 public:
  // "unary", "client_stream", "server_stream", "bidi_stream".
  struct Method {
    std::string type, service, method;
    bool operator<(const Method& o) const {
      return std::tie(type, service, method) < std::tie(o.type, o.service, o.method);
    }
  };

  void Started(const Method& method);
  void Handled(const Method& method, const std::string& code);
  void MessageReceived(const Method& method, size_t bytes);
  void MessageSent(const Method& method, size_t bytes);
  void Write(PrometheusText* out) const;

  // An interceptor factory for grpc::ServerBuilder that reports to this.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

 private:
  struct Counts {
    uint64_t started = 0, received = 0, sent = 0;
    std::map<std::string, uint64_t> handled;  // by code name
  };
  static bool IsSync(const Method& method);

  mutable absl::Mutex mu_;
  std::map<Method, Counts> by_method_ ABSL_GUARDED_BY(mu_);
  uint64_t sync_received_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t sync_sent_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

// "OK", "Canceled", ... as go-grpc-prometheus writes grpc_code.
std::string GrpcCodeName(int code);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_METRICS_RPC_METRICS_H_
