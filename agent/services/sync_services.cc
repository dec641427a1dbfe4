#include "agent/services/sync_services.h"

namespace mlcube {

absl::StatusOr<std::unique_ptr<SyncServices>> SyncServices::Create(const StateLayout* layout,
                                                                   int64_t stored_bytes_limit,
                                                                   StreamLimiter* streams,
                                                                   CubeJobs* jobs,
                                                                   IdentityFn identity) {
  std::unique_ptr<SyncServices> s(new SyncServices());
  absl::StatusOr<BlobStore> store = BlobStore::Open(layout->BlobsDir());
  if (!store.ok()) return store.status();
  s->store_ = std::make_unique<BlobStore>(std::move(*store));
  absl::StatusOr<std::unique_ptr<UploadManager>> uploads =
      UploadManager::Create(layout->UploadsDir(), s->store_.get());
  if (!uploads.ok()) return uploads.status();
  s->uploads_ = std::move(*uploads);
  absl::StatusOr<std::unique_ptr<BlobGrants>> grants = BlobGrants::Open(layout->GrantsDir());
  if (!grants.ok()) return grants.status();
  s->grants_ = std::move(*grants);
  s->index_ = std::make_unique<WorkspaceBlobIndex>();
  const std::string cubes_root = layout->CubesDir();
  s->chunks_ = std::make_unique<ChunkLocations>();
  s->access_ = std::make_unique<BlobAccess>(s->store_.get(), s->index_.get(), s->grants_.get(),
                                            cubes_root, s->chunks_.get());
  s->quota_ = std::make_unique<StorageQuota>(stored_bytes_limit, cubes_root, s->store_.get(),
                                             s->grants_.get(), s->uploads_.get());
  s->content_store_ = std::make_unique<ContentStoreService>(
      s->store_.get(), s->uploads_.get(), s->access_.get(), s->quota_.get(), streams, identity);
  WorkspacesService::Options options;
  options.layout = layout;
  s->workspaces_ = std::make_unique<WorkspacesService>(
      options, s->store_.get(), s->index_.get(), s->access_.get(), s->quota_.get(), jobs, identity);
  WorkspacesService* workspaces = s->workspaces_.get();
  s->quota_->set_covered(
      [workspaces](const std::string& owner) { return workspaces->ChunksOfCommits(owner); });
  if (jobs != nullptr) {
    s->quota_->set_job_bytes([jobs](const std::string& owner) { return jobs->JobBytesOf(owner); });
  }
  s->workspaces_->IndexCommittedWorkspaces();
  return s;
}

}  // namespace mlcube
