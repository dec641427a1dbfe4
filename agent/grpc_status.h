#ifndef MLCUBE_REMOTE_AGENT_GRPC_STATUS_H_
#define MLCUBE_REMOTE_AGENT_GRPC_STATUS_H_

// absl::Status -> grpc::Status at the service boundary (same code numbers).

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace mlcube {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message().data(), status.message().size()));
}

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_GRPC_STATUS_H_
