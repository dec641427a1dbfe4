#ifndef MLCUBE_REMOTE_AGENT_SERVICES_SYNC_SERVICES_H_
#define MLCUBE_REMOTE_AGENT_SERVICES_SYNC_SERVICES_H_

// Owns everything behind workspace sync (STATE/blobs, STATE/uploads,
// STATE/cubes, STATE/commits) and its two gRPC services, so the daemon's
// main only creates one object and registers what services() returns.
// Creating it recovers what a crash left in STATE/cubes (WorkspaceRecovery,
// whose removals stop when this object is destroyed) and indexes the files
// of every committed manifest.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/cas/blob_access.h"
#include "agent/cas/blob_collector.h"
#include "agent/cas/blob_grants.h"
#include "agent/cas/blob_store.h"
#include "agent/cas/chunk_splicer.h"
#include "agent/cas/storage_quota.h"
#include "agent/cas/upload_manager.h"
#include "agent/cas/workspace_blob_index.h"
#include "agent/server/stream_limiter.h"
#include "agent/services/content_store_service.h"
#include "agent/services/workspaces_service.h"
#include "agent/state/state_layout.h"
#include "agent/workspaces/commit_records.h"
#include "agent/workspaces/committed_manifests.h"
#include "agent/workspaces/cube_committer.h"
#include "agent/workspaces/cube_locks.h"
#include "agent/workspaces/cube_remover.h"
#include "agent/workspaces/workspace_recovery.h"
#include "agent/workspaces/workspace_snapshotter.h"

namespace mlcube {

class SyncServices {
 public:
  // `streams` caps each identity's open upload/read streams;
  // `stored_bytes_limit` (0: none) caps what each identity stores.
  // `layout`, `streams` and `jobs` are not owned and outlive the services.
  static absl::StatusOr<std::unique_ptr<SyncServices>> Create(const StateLayout* layout,
                                                              int64_t stored_bytes_limit,
                                                              StreamLimiter* streams,
                                                              CubeJobs* jobs, IdentityFn identity);

  std::vector<grpc::Service*> services() { return {content_store_.get(), workspaces_.get()}; }
  WorkspacesService* workspaces() { return workspaces_.get(); }
  StorageQuota* quota() { return quota_.get(); }

 private:
  SyncServices() = default;
  // The workspace half, after the content store's.
  void CreateWorkspaces(const StateLayout* layout, CubeJobs* jobs, IdentityFn identity);
  // Indexes the files of every committed manifest (at start-up).
  void IndexCommittedWorkspaces(const StateLayout& layout);

  std::unique_ptr<BlobStore> store_;
  std::unique_ptr<WorkspaceBlobIndex> index_;
  std::unique_ptr<ChunkLocations> chunks_;  // before access_, which points at it
  std::unique_ptr<UploadManager> uploads_;
  std::unique_ptr<BlobGrants> grants_;
  std::unique_ptr<BlobAccess> access_;
  std::unique_ptr<StorageQuota> quota_;
  std::unique_ptr<ChunkSplicer> splicer_;
  std::unique_ptr<CommitRecords> records_;
  std::unique_ptr<CommittedManifests> manifests_;
  std::unique_ptr<BlobCollector> collector_;
  CubeLocks locks_;
  std::unique_ptr<CubeCommitter> committer_;
  std::unique_ptr<WorkspaceSnapshotter> snapshotter_;
  std::unique_ptr<CubeRemover> remover_;
  std::unique_ptr<WorkspaceRecovery> recovery_;
  std::unique_ptr<ContentStoreService> content_store_;
  std::unique_ptr<WorkspacesService> workspaces_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SERVICES_SYNC_SERVICES_H_
