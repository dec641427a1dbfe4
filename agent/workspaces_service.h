#ifndef MLCUBE_REMOTE_AGENT_WORKSPACES_SERVICE_H_
#define MLCUBE_REMOTE_AGENT_WORKSPACES_SERVICE_H_

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
#include <mutex>
#include <string>
#include <vector>

#include "agent/blob_access.h"
#include "agent/blob_store.h"
#include "agent/content_store_service.h"
#include "agent/storage_quota.h"
#include "agent/workspace_blob_index.h"
#include "agent/workspace_materializer.h"
#include "mlcube_remote/v1/jobs.pb.h"
#include "mlcube_remote/v1/manifest.pb.h"
#include "mlcube_remote/v1/workspace.grpc.pb.h"

namespace mlcube {

class WorkspacesService final : public ::mlcube_remote::v1::Workspaces::Service {
 public:
  struct Options {
    std::string state_dir;
    // Unreferenced blobs are collected, least recently used first, when the
    // store grows past this (0: never).
    int64_t blob_cache_bytes = int64_t{20} << 30;
    // Blobs younger than this are never collected (uploads in flight).
    int64_t gc_min_age_seconds = 3600;
    // At most one collection per this many seconds.
    int64_t gc_interval_seconds = 600;
  };

  // None owned. `index` learns where committed files hold blobs; `access`
  // says which blobs a caller may commit; `quota` caps what it stores.
  WorkspacesService(Options options, BlobStore* store, WorkspaceBlobIndex* index,
                    BlobAccess* access, StorageQuota* quota, IdentityFn identity);

  // What Snapshot(job_id) pulls: the job's cube and the workspace-relative
  // output paths of its tasks, as the job ran them (its -P overrides and
  // host settings applied). The job manager's OutputsOf(owner, id).
  struct JobOutputs {
    std::string cube_id;
    std::vector<std::string> paths;
  };
  using JobLookup = std::function<absl::StatusOr<JobOutputs>(const std::string& owner,
                                                             const std::string& job_id)>;
  // Set once at start-up, before serving.
  void SetJobLookup(JobLookup lookup) { job_lookup_ = std::move(lookup); }
  // The owner's unfinished jobs of a cube (DeleteCube refuses while any).
  using ActiveJobsLookup =
      std::function<std::vector<std::string>(const std::string& owner, const std::string& cube_id)>;
  void SetActiveJobsLookup(ActiveJobsLookup lookup) { active_jobs_ = std::move(lookup); }

  // Records the files of every committed manifest in the index and
  // finishes deletions a crash interrupted (at start-up).
  void IndexCommittedWorkspaces();

  // A job is about to work in the cube's workspace: its commit record says
  // so (CubeSummary.workspace_used) until the next commit.
  void MarkWorkspaceUsed(const std::string& owner, const std::string& cube_id);

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

 private:
  std::string CommitFile(const std::string& owner, const std::string& cube_id) const;
  // Calls `visit` with every owner's every readable commit record.
  void ForEachCommit(
      const std::function<void(const std::string& owner, const ::mlcube_remote::v1::CubeSummary&)>&
          visit) const;
  std::mutex* CubeMutex(const std::string& key);
  void MaybeCollectGarbage();

  Options options_;
  BlobStore* store_;
  WorkspaceBlobIndex* index_;
  BlobAccess* access_;
  StorageQuota* quota_;
  IdentityFn identity_;
  WorkspaceMaterializer materializer_;
  JobLookup job_lookup_;
  ActiveJobsLookup active_jobs_;
  std::mutex mu_;  // guards cube_mutexes_ and last_gc_
  std::map<std::string, std::unique_ptr<std::mutex>> cube_mutexes_;
  int64_t last_gc_ = 0;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_WORKSPACES_SERVICE_H_
