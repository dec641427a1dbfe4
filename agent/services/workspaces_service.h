#ifndef MLCUBE_REMOTE_AGENT_SERVICES_WORKSPACES_SERVICE_H_
#define MLCUBE_REMOTE_AGENT_SERVICES_WORKSPACES_SERVICE_H_

// gRPC Workspaces: commit a manifest into the caller's cube tree
// (CubeCommitter), snapshot workspace paths into the content store for
// pulls (WorkspaceSnapshotter; a job's outputs as its cube declares them),
// list the caller's cubes (CommitRecords), delete a cube no unfinished job
// uses (CubeRemover). Each handler finds the caller, validates the request,
// delegates and maps the status; each owner's cubes live apart.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/cas/blob_collector.h"
#include "agent/jobs/cube_jobs.h"
#include "agent/services/content_store_service.h"
#include "agent/workspaces/commit_records.h"
#include "agent/workspaces/cube_committer.h"
#include "agent/workspaces/cube_locks.h"
#include "agent/workspaces/cube_remover.h"
#include "agent/workspaces/workspace_snapshotter.h"
#include "mlcube_remote/v1/workspace.grpc.pb.h"

namespace mlcube {

class WorkspacesService final : public ::mlcube_remote::v1::Workspaces::Service,
                                public WorkspaceUseRecorder {
 public:
  struct Parts {  // none owned; all outlive the service
    CubeCommitter* committer = nullptr;
    WorkspaceSnapshotter* snapshotter = nullptr;
    CubeRemover* remover = nullptr;
    CommitRecords* records = nullptr;
    CubeLocks* locks = nullptr;
    StorageQuota* quota = nullptr;
    BlobCollector* collector = nullptr;  // runs after each commit
    CubeJobs* jobs = nullptr;            // null: an agent that runs no jobs
  };
  WorkspacesService(Parts parts, IdentityFn identity)
      : parts_(parts), identity_(std::move(identity)) {}

  // WorkspaceUseRecorder: the commit record says so
  // (CubeSummary.workspace_used) until the next commit. Best effort: if
  // this cannot be written (disk full), the next push may take the no-op
  // shortcut and a task-written input stays until a change.
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
  grpc::Status DeleteCube(grpc::ServerContext* context,
                          const ::mlcube_remote::v1::DeleteCubeRequest* request,
                          ::mlcube_remote::v1::DeleteCubeResponse* response) override;

 private:
  // The workspace paths a snapshot request asks for (a job's outputs
  // included).
  absl::StatusOr<std::vector<std::string>> SnapshotPaths(
      const std::string& owner, const ::mlcube_remote::v1::SnapshotRequest& request);

  Parts parts_;
  IdentityFn identity_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SERVICES_WORKSPACES_SERVICE_H_
