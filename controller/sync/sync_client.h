#ifndef MLCUBE_REMOTE_CONTROLLER_SYNC_SYNC_CLIENT_H_
#define MLCUBE_REMOTE_CONTROLLER_SYNC_SYNC_CLIENT_H_

// Pushes a cube to an agent and pulls workspace files back, over the
// ContentStore and Workspaces services. The work is done by PushOperation
// and PullOperation (see there); this class owns the stubs and the cube's
// scan cache binding.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "controller/sync/scan_cache.h"
#include "controller/sync/sync_options.h"
#include "mlcube_remote/v1/content_store.grpc.pb.h"
#include "mlcube_remote/v1/workspace.grpc.pb.h"

namespace mlcube {

class SyncClient {
 public:
  // The cache belongs to the cube being synced; it is saved after a sync.
  SyncClient(std::shared_ptr<grpc::Channel> channel, ScanCache* cache);

  absl::StatusOr<PushStats> Push(const PushOptions& options);
  absl::StatusOr<PullStats> Pull(const PullOptions& options);

  // Default cube id: basename of the directory, '-', 8 hex chars of the
  // SHA-256 of its absolute path.
  static std::string DefaultCubeId(const std::string& cube_root);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::mlcube_remote::v1::ContentStore::Stub> cas_;
  std::unique_ptr<::mlcube_remote::v1::Workspaces::Stub> workspaces_;
  ScanCache* cache_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SYNC_SYNC_CLIENT_H_
