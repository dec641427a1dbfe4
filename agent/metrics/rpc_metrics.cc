#include "agent/metrics/rpc_metrics.h"

#include <google/protobuf/message_lite.h>
#include <grpcpp/support/byte_buffer.h>

#include "absl/strings/match.h"

namespace mlcube {
namespace {

using grpc::experimental::InterceptionHookPoints;

const char* TypeName(grpc::experimental::ServerRpcInfo::Type type) {
  switch (type) {
    case grpc::experimental::ServerRpcInfo::Type::UNARY:
      return "unary";
    case grpc::experimental::ServerRpcInfo::Type::CLIENT_STREAMING:
      return "client_stream";
    case grpc::experimental::ServerRpcInfo::Type::SERVER_STREAMING:
      return "server_stream";
    default:
      return "bidi_stream";
  }
}

// "/mlcube_remote.v1.Jobs/SubmitJob" -> service and method.
RpcMetrics::Method MethodOf(grpc::experimental::ServerRpcInfo* info) {
  RpcMetrics::Method method;
  method.type = TypeName(info->type());
  const std::string full = info->method() != nullptr ? info->method() : "";
  const size_t slash = full.rfind('/');
  method.service = slash == std::string::npos ? "" : full.substr(full[0] == '/', slash - 1);
  method.method = slash == std::string::npos ? full : full.substr(slash + 1);
  return method;
}

class RpcMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(grpc::experimental::ServerRpcInfo* info, RpcMetrics* metrics)
      : method_(MethodOf(info)), metrics_(metrics) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      metrics_->Started(method_);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      // Our services are protobuf ones: the message is a MessageLite.
      const auto* message = static_cast<const google::protobuf::MessageLite*>(
          static_cast<const void*>(methods->GetRecvMessage()));
      // (None at the end of a client stream: nothing arrived.)
      if (message != nullptr) metrics_->MessageReceived(method_, message->ByteSizeLong());
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      const grpc::ByteBuffer* buffer = methods->GetSerializedSendMessage();
      metrics_->MessageSent(method_, buffer != nullptr ? buffer->Length() : 0);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_->Handled(method_, GrpcCodeName(methods->GetSendStatus().error_code()));
    }
    methods->Proceed();
  }

 private:
  const RpcMetrics::Method method_;
  RpcMetrics* const metrics_;
};

class RpcMetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsInterceptorFactory(RpcMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcMetricsInterceptor(info, metrics_);
  }

 private:
  RpcMetrics* const metrics_;
};

}  // namespace

std::string GrpcCodeName(int code) {
  static constexpr const char* kNames[] = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  return code >= 0 && code < 17 ? kNames[code] : "Unknown";
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcMetrics::InterceptorFactory() {
  return std::make_unique<RpcMetricsInterceptorFactory>(this);
}

bool RpcMetrics::IsSync(const Method& method) {
  return absl::EndsWith(method.service, ".ContentStore") ||
         absl::EndsWith(method.service, ".Workspaces");
}

void RpcMetrics::Started(const Method& method) {
  absl::MutexLock lock(&mu_);
  ++by_method_[method].started;
}

void RpcMetrics::Handled(const Method& method, const std::string& code) {
  absl::MutexLock lock(&mu_);
  ++by_method_[method].handled[code];
}

void RpcMetrics::MessageReceived(const Method& method, size_t bytes) {
  absl::MutexLock lock(&mu_);
  ++by_method_[method].received;
  if (IsSync(method)) sync_received_bytes_ += bytes;
}

void RpcMetrics::MessageSent(const Method& method, size_t bytes) {
  absl::MutexLock lock(&mu_);
  ++by_method_[method].sent;
  if (IsSync(method)) sync_sent_bytes_ += bytes;
}

void RpcMetrics::Write(PrometheusText* out) const {
  absl::MutexLock lock(&mu_);
  auto labels = [](const Method& m) -> MetricLabels {
    return {{"grpc_type", m.type}, {"grpc_service", m.service}, {"grpc_method", m.method}};
  };
  out->Family("grpc_server_started_total", "counter",
              "Total number of RPCs started on the server.");
  for (const auto& [m, c] : by_method_) {
    out->Sample("grpc_server_started_total", labels(m), static_cast<double>(c.started));
  }
  out->Family("grpc_server_handled_total", "counter",
              "Total number of RPCs completed on the server, regardless of success or failure.");
  for (const auto& [m, c] : by_method_) {
    for (const auto& [code, n] : c.handled) {
      MetricLabels with_code = labels(m);
      with_code.emplace_back("grpc_code", code);
      out->Sample("grpc_server_handled_total", with_code, static_cast<double>(n));
    }
  }
  out->Family("grpc_server_msg_received_total", "counter",
              "Total number of RPC stream messages received on the server.");
  for (const auto& [m, c] : by_method_) {
    out->Sample("grpc_server_msg_received_total", labels(m), static_cast<double>(c.received));
  }
  out->Family("grpc_server_msg_sent_total", "counter",
              "Total number of gRPC stream messages sent by the server.");
  for (const auto& [m, c] : by_method_) {
    out->Sample("grpc_server_msg_sent_total", labels(m), static_cast<double>(c.sent));
  }
  out->Family("mlcube_agent_sync_received_bytes_total", "counter",
              "Bytes of sync messages (content store, workspaces) received from controllers.");
  out->Sample("mlcube_agent_sync_received_bytes_total", static_cast<double>(sync_received_bytes_));
  out->Family("mlcube_agent_sync_sent_bytes_total", "counter",
              "Bytes of sync messages (content store, workspaces) sent to controllers.");
  out->Sample("mlcube_agent_sync_sent_bytes_total", static_cast<double>(sync_sent_bytes_));
}

}  // namespace mlcube
