#ifndef MLCUBE_REMOTE_AGENT_SERVICES_WORKSPACES_SERVICE_H_
#define MLCUBE_REMOTE_AGENT_SERVICES_WORKSPACES_SERVICE_H_

// gRPC Workspaces: commit a manifest into the caller's cube tree
// (STATE/cubes/OWNER/CUBE_ID), snapshot workspace paths into the content
// store for pulls, list the caller's cubes. Each owner's cubes live apart;
// the committed manifest of each cube is recorded in
// STATE/commits/OWNER/CUBE_ID.commit (a CubeSummary), written after the
// workspace matches it. Commits of one cube are serialised.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "agent/cas/blob_access.h"
#include "agent/cas/blob_store.h"
#include "agent/cas/chunk_splicer.h"
#include "agent/cas/storage_quota.h"
#include "agent/cas/workspace_blob_index.h"
#include "agent/jobs/cube_jobs.h"
#include "agent/services/content_store_service.h"
#include "agent/state/state_layout.h"
#include "agent/workspaces/workspace_materializer.h"
#include "mlcube_remote/v1/jobs.pb.h"
#include "mlcube_remote/v1/manifest.pb.h"
#include "mlcube_remote/v1/workspace.grpc.pb.h"

namespace mlcube {

class WorkspacesService final : public ::mlcube_remote::v1::Workspaces::Service,
                                public WorkspaceUseRecorder {
 public:
  struct Options {
    const StateLayout* layout = nullptr;  // not owned; outlives the service
    // Unreferenced blobs are collected, least recently used first, when the
    // store grows past this (0: never).
    int64_t blob_cache_bytes = int64_t{20} << 30;
    // Blobs younger than this are never collected (uploads in flight).
    int64_t gc_min_age_seconds = 3600;
    // At most one collection per this many seconds.
    int64_t gc_interval_seconds = 600;
  };

  // None owned. `index` learns where committed files hold blobs; `access`
  // says which blobs a caller may commit; `quota` caps what it stores;
  // `jobs` answers Snapshot(job_id) and whether a cube is in use.
  WorkspacesService(Options options, BlobStore* store, WorkspaceBlobIndex* index,
                    BlobAccess* access, StorageQuota* quota, CubeJobs* jobs, IdentityFn identity);

  // Records the files of every committed manifest in the index and
  // finishes deletions a crash interrupted (at start-up; those removals run
  // on a thread of their own, so a huge tree never delays start-up).
  void IndexCommittedWorkspaces();

  // WorkspaceUseRecorder: the commit record says so
  // (CubeSummary.workspace_used) until the next commit.
  void MarkWorkspaceUsed(const std::string& owner, const std::string& cube_id) override;

  grpc::Status CommitManifest(grpc::ServerContext* context,
                              const ::mlcube_remote::v1::CommitManifestRequest* request,
                              ::mlcube_remote::v1::CommitManifestResponse* response) override;
  grpc::Status Snapshot(grpc::ServerContext* context,
                        const ::mlcube_remote::v1::SnapshotRequest* request,
                        ::mlcube_remote::v1::SnapshotResponse* response) override;
  grpc::Status ListCubes(grpc::ServerContext* context,
                         const ::mlcube_remote::v1::ListCubesRequest* request,
                         ::mlcube_remote::v1::ListCubesResponse* response) override;
  // Forgets the commit first, then moves the tree aside and removes it, so
  // a crash midway leaves no commit record naming files that are gone (the
  // next push sends everything again); Start-up finishes such removals.
  grpc::Status DeleteCube(grpc::ServerContext* context,
                          const ::mlcube_remote::v1::DeleteCubeRequest* request,
                          ::mlcube_remote::v1::DeleteCubeResponse* response) override;

  // Directory of a cube's tree (for the job manager).
  std::string CubeDir(const std::string& owner, const std::string& cube_id) const;

  // Runs a garbage collection now (also exposed for tests).
  absl::Status CollectGarbage();

  // The chunk and chunk-list hashes of the big files in `owner`'s committed
  // manifests (for StorageQuota: the workspace copies are counted instead).
  absl::flat_hash_set<std::string> ChunksOfCommits(const std::string& owner) const;

 private:
  std::string CommitFile(const std::string& owner, const std::string& cube_id) const;
  // Calls `visit` with every owner's every readable commit record.
  void ForEachCommit(
      const std::function<void(const std::string& owner, const ::mlcube_remote::v1::CubeSummary&)>&
          visit) const;
  absl::Mutex* CubeMutex(const std::string& key);
  void MaybeCollectGarbage();
  // CommitManifest's parts: the manifest the request names, read (only one
  // `owner` may read) and validated; the cube's committed manifest, or null
  // when there is none or it is unreadable; the record of a new commit.
  absl::StatusOr<::mlcube_remote::v1::Manifest> ReadRequestedManifest(
      const std::string& owner, const ::mlcube_remote::v1::CommitManifestRequest& request);
  std::unique_ptr<::mlcube_remote::v1::Manifest> PreviousCommit(const std::string& commit_file);
  absl::Status RecordCommit(const std::string& owner,
                            const ::mlcube_remote::v1::CommitManifestRequest& request);
  // Snapshot's parts: the workspace paths a request asks for (a job's
  // outputs included); and a manifest of the walked entries, stored and
  // granted to `owner`.
  absl::StatusOr<std::vector<std::string>> SnapshotPaths(
      const std::string& owner, const ::mlcube_remote::v1::SnapshotRequest& request);
  absl::Status StoreSnapshot(const std::string& owner,
                             std::map<std::string, ::mlcube_remote::v1::ManifestEntry>* entries,
                             ::mlcube_remote::v1::SnapshotResponse* response);

  Options options_;
  BlobStore* store_;
  WorkspaceBlobIndex* index_;
  BlobAccess* access_;
  StorageQuota* quota_;
  CubeJobs* jobs_;
  IdentityFn identity_;
  WorkspaceMaterializer materializer_;
  ChunkSplicer splicer_;
  absl::Mutex mu_;  // guards cube_mutexes_ and last_gc_
  std::map<std::string, std::unique_ptr<absl::Mutex>> cube_mutexes_;
  int64_t last_gc_ = 0;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SERVICES_WORKSPACES_SERVICE_H_
