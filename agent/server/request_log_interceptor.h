#ifndef MLCUBE_REMOTE_AGENT_SERVER_REQUEST_LOG_INTERCEPTOR_H_
#define MLCUBE_REMOTE_AGENT_SERVER_REQUEST_LOG_INTERCEPTOR_H_

// Gives every gRPC call a request id and the caller's identity in the
// agent's log: while the call's handler runs, its thread's records carry
// both (a LogScope). The id is the client's `x-request-id` header when it
// sends a well-formed one (1 to 64 of [A-Za-z0-9._-]), else 16 random hex
// digits.
//
// One record per call that changes something (SubmitJob, SubmitJobs,
// CancelJob, CommitManifest, DeleteCube) and per call that fails, other than
// those the client cancelled: "METHOD: CODE in N ms[: message]". Reads that
// succeed (GetJob polls, blob transfers, log streams) write nothing.

#include <grpcpp/support/server_interceptor.h>

#include <string>

#include "absl/strings/string_view.h"

namespace mlcube {

class RequestLogInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

  // The request id for a call whose client sent `header` (empty: none).
  static std::string RequestIdFor(absl::string_view header);
  // True for the methods whose successful calls are logged too.
  static bool ChangesState(absl::string_view method);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SERVER_REQUEST_LOG_INTERCEPTOR_H_
