#ifndef MLCUBE_REMOTE_COMMON_GRPC_STATUS_H_
#define MLCUBE_REMOTE_COMMON_GRPC_STATUS_H_

// absl::Status <-> grpc::Status at the wire boundary (the code numbers are
// the same in both). The agent's services return ToGrpcStatus; the
// controller turns an RPC's result into FromGrpcStatus, prefixed with what it
// was doing.

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace mlcube {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message().data(), status.message().size()));
}

// OK stays OK; otherwise the same code with "WHAT: MESSAGE".
inline absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_GRPC_STATUS_H_
