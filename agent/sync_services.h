#ifndef MLCUBE_REMOTE_AGENT_SYNC_SERVICES_H_
#define MLCUBE_REMOTE_AGENT_SYNC_SERVICES_H_

// Owns everything behind workspace sync (STATE/blobs, STATE/uploads,
// STATE/cubes, STATE/commits) and its two gRPC services, so the daemon's
// main only creates one object and registers what services() returns.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/blob_access.h"
#include "agent/blob_grants.h"
#include "agent/blob_store.h"
#include "agent/content_store_service.h"
#include "agent/storage_quota.h"
#include "agent/stream_limiter.h"
#include "agent/upload_manager.h"
#include "agent/workspace_blob_index.h"
#include "agent/workspaces_service.h"

namespace mlcube {

class SyncServices {
 public:
  // `streams` (not owned) caps each identity's open upload/read streams;
  // `stored_bytes_limit` (0: none) caps what each identity stores.
  static absl::StatusOr<std::unique_ptr<SyncServices>> Create(const std::string& state_dir,
                                                              int64_t stored_bytes_limit,
                                                              StreamLimiter* streams,
                                                              IdentityFn identity);

  std::vector<grpc::Service*> services() { return {content_store_.get(), workspaces_.get()}; }
  WorkspacesService* workspaces() { return workspaces_.get(); }
  StorageQuota* quota() { return quota_.get(); }

 private:
  SyncServices() = default;
  std::unique_ptr<BlobStore> store_;
  std::unique_ptr<WorkspaceBlobIndex> index_;
  std::unique_ptr<UploadManager> uploads_;
  std::unique_ptr<BlobGrants> grants_;
  std::unique_ptr<BlobAccess> access_;
  std::unique_ptr<StorageQuota> quota_;
  std::unique_ptr<ContentStoreService> content_store_;
  std::unique_ptr<WorkspacesService> workspaces_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SYNC_SERVICES_H_
