#include "agent/sync_services.h"

namespace mlcube {

absl::StatusOr<std::unique_ptr<SyncServices>> SyncServices::Create(const std::string& state_dir,
                                                                   IdentityFn identity) {
  std::unique_ptr<SyncServices> s(new SyncServices());
  absl::StatusOr<BlobStore> store = BlobStore::Open(state_dir + "/blobs");
  if (!store.ok()) return store.status();
  s->store_ = std::make_unique<BlobStore>(std::move(*store));
  absl::StatusOr<std::unique_ptr<UploadManager>> uploads =
      UploadManager::Create(state_dir + "/uploads", s->store_.get());
  if (!uploads.ok()) return uploads.status();
  s->uploads_ = std::move(*uploads);
  s->index_ = std::make_unique<WorkspaceBlobIndex>();
  s->content_store_ = std::make_unique<ContentStoreService>(s->store_.get(), s->uploads_.get(),
                                                            s->index_.get(), identity);
  WorkspacesService::Options options;
  options.state_dir = state_dir;
  s->workspaces_ =
      std::make_unique<WorkspacesService>(options, s->store_.get(), s->index_.get(), identity);
  s->workspaces_->IndexCommittedWorkspaces();
  return s;
}

}  // namespace mlcube
