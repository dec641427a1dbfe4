#include "agent/server/request_log_interceptor.h"

#include <grpcpp/server_context.h>

#include <optional>
#include <thread>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "agent/log/log.h"
#include "agent/server/caller_identity.h"

namespace mlcube {
namespace {

using grpc::experimental::InterceptionHookPoints;

constexpr size_t kMaxRequestIdLength = 64;

bool IsWellFormedRequestId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (const char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

// "SubmitJobs" of "/mlcube_remote.v1.Jobs/SubmitJobs".
absl::string_view MethodName(const char* full) {
  absl::string_view name = full != nullptr ? full : "";
  const size_t slash = name.rfind('/');
  return slash == absl::string_view::npos ? name : name.substr(slash + 1);
}

class RequestLogger final : public grpc::experimental::Interceptor {
 public:
  explicit RequestLogger(grpc::experimental::ServerRpcInfo* info)
      : info_(info), method_(MethodName(info->method())), started_(absl::Now()) {}

  ~RequestLogger() override { EndScope(); }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      BeginScope();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      LogOutcome(methods->GetSendStatus());
      EndScope();
    }
    methods->Proceed();
  }

 private:
  void BeginScope() {
    grpc::ServerContextBase* context = info_->server_context();
    if (context == nullptr || scope_.has_value()) return;
    const auto& headers = context->client_metadata();
    const auto header = headers.find("x-request-id");
    LogFields fields;
    fields.request_id = RequestLogInterceptorFactory::RequestIdFor(
        header == headers.end() ? absl::string_view()
                                : absl::string_view(header->second.data(), header->second.size()));
    absl::StatusOr<std::string> identity = CallerIdentity(*context);
    fields.identity = identity.ok() ? *identity : "-";
    scope_.emplace(fields, LogScope::Outer::kIgnore);
    scope_thread_ = std::this_thread::get_id();
  }

  // A scope ends on the thread that began it; elsewhere it is left alone
  // (the next call on that pooled thread replaces it anyway).
  void EndScope() {
    if (scope_.has_value() && scope_thread_ == std::this_thread::get_id()) scope_.reset();
  }

  void LogOutcome(const grpc::Status& status) const {
    const auto code = static_cast<absl::StatusCode>(status.error_code());
    if (code == absl::StatusCode::kCancelled) return;
    if (code == absl::StatusCode::kOk && !RequestLogInterceptorFactory::ChangesState(method_)) {
      return;
    }
    std::string line = absl::StrFormat("%s: %s in %d ms", method_, absl::StatusCodeToString(code),
                                       absl::ToInt64Milliseconds(absl::Now() - started_));
    if (!status.error_message().empty()) absl::StrAppend(&line, ": ", status.error_message());
    const bool agent_fault = code == absl::StatusCode::kInternal ||
                             code == absl::StatusCode::kUnknown ||
                             code == absl::StatusCode::kDataLoss;
    LogWith(LogFields{}, agent_fault ? LogLevel::kWarning : LogLevel::kInfo, line);
  }

  grpc::experimental::ServerRpcInfo* info_;
  const std::string method_;
  const absl::Time started_;
  std::optional<LogScope> scope_;
  std::thread::id scope_thread_;
};

}  // namespace

grpc::experimental::Interceptor* RequestLogInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new RequestLogger(info);
}

std::string RequestLogInterceptorFactory::RequestIdFor(absl::string_view header) {
  if (IsWellFormedRequestId(header)) return std::string(header);
  absl::BitGen random;
  return absl::StrFormat("%016x", absl::Uniform<uint64_t>(random));
}

bool RequestLogInterceptorFactory::ChangesState(absl::string_view method) {
  return method == "SubmitJob" || method == "SubmitJobs" || method == "CancelJob" ||
         method == "RerunJob" || method == "CommitManifest" || method == "DeleteCube";
}

}  // namespace mlcube
