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
  s->CreateWorkspaces(layout, jobs, std::move(identity));
  if (jobs != nullptr) {
    s->quota_->set_job_bytes([jobs](const std::string& owner) { return jobs->JobBytesOf(owner); });
  }
  s->recovery_ = std::make_unique<WorkspaceRecovery>(*layout);
  s->IndexCommittedWorkspaces(*layout);
  return s;
}

void SyncServices::CreateWorkspaces(const StateLayout* layout, CubeJobs* jobs,
                                    IdentityFn identity) {
  splicer_ = std::make_unique<ChunkSplicer>(store_.get(), access_.get());
  records_ = std::make_unique<CommitRecords>(layout);
  manifests_ = std::make_unique<CommittedManifests>(records_.get(), store_.get());
  const CommittedManifests* manifests = manifests_.get();
  collector_ = std::make_unique<BlobCollector>(
      BlobCollector::Options(), store_.get(), [manifests] { return manifests->ReferencedBlobs(); });
  quota_->set_covered([manifests](const std::string& owner) { return manifests->ChunksOf(owner); });
  CubeCommitter::Parts commit;
  commit.layout = layout;
  commit.store = store_.get();
  commit.index = index_.get();
  commit.access = access_.get();
  commit.quota = quota_.get();
  commit.splicer = splicer_.get();
  commit.records = records_.get();
  commit.manifests = manifests;
  commit.locks = &locks_;
  if (jobs != nullptr) {
    commit.jobs_unfinished = [jobs](const std::string& owner, const std::string& cube_id) {
      return !jobs->UnfinishedJobsOf(owner, cube_id).empty();
    };
  }
  committer_ = std::make_unique<CubeCommitter>(commit);
  snapshotter_ = std::make_unique<WorkspaceSnapshotter>(layout, store_.get(), index_.get(),
                                                        access_.get(), splicer_.get());
  remover_ = std::make_unique<CubeRemover>(layout, records_.get(), &locks_);
  WorkspacesService::Parts parts;
  parts.committer = committer_.get();
  parts.snapshotter = snapshotter_.get();
  parts.remover = remover_.get();
  parts.records = records_.get();
  parts.locks = &locks_;
  parts.quota = quota_.get();
  parts.collector = collector_.get();
  parts.jobs = jobs;
  workspaces_ = std::make_unique<WorkspacesService>(parts, std::move(identity));
}

void SyncServices::IndexCommittedWorkspaces(const StateLayout& layout) {
  manifests_->ForEach([&](const std::string& owner, const std::string& cube_id,
                          const ::mlcube_remote::v1::Manifest& manifest) {
    index_->AddManifest(layout.CubeDir(owner, cube_id), manifest);
    splicer_->RecordChunkLocations(owner, manifest);
  });
}

}  // namespace mlcube
