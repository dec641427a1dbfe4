#ifndef MLCUBE_REMOTE_AGENT_WORKSPACES_CUBE_COMMITTER_H_
#define MLCUBE_REMOTE_AGENT_WORKSPACES_CUBE_COMMITTER_H_

// Commits a manifest into a cube's tree (STATE/cubes/OWNER/CUBE_ID): the
// manifest must be one the owner may read, pass ManifestValidator and fit
// the owner's quota; big files sent as chunks are spliced into whole blobs
// before anything changes; then the tree is made to match it
// (WorkspaceMaterializer) and the commit is recorded (CommitRecords), in
// that order. New cube trees inherit the owner directory's access list
// (TreeAcl): nobody but the agent until a job adds the identity's task uid.
// Commits of one cube are serialised (CubeLocks). Thread-safe.

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "agent/cas/blob_access.h"
#include "agent/cas/blob_store.h"
#include "agent/cas/chunk_splicer.h"
#include "agent/cas/storage_quota.h"
#include "agent/cas/workspace_blob_index.h"
#include "agent/state/state_layout.h"
#include "agent/workspaces/commit_records.h"
#include "agent/workspaces/committed_manifests.h"
#include "agent/workspaces/cube_locks.h"
#include "agent/workspaces/workspace_materializer.h"
#include "mlcube_remote/v1/workspace.pb.h"

namespace mlcube {

class CubeCommitter {
 public:
  struct Parts {  // none owned; all outlive the committer
    const StateLayout* layout = nullptr;
    BlobStore* store = nullptr;
    WorkspaceBlobIndex* index = nullptr;
    BlobAccess* access = nullptr;
    StorageQuota* quota = nullptr;
    const ChunkSplicer* splicer = nullptr;
    CommitRecords* records = nullptr;
    const CommittedManifests* manifests = nullptr;
    CubeLocks* locks = nullptr;
    // Whether a job of the cube has not ended (its tasks may still write
    // the workspace after the commit). Unset: an agent that runs no jobs.
    std::function<bool(const std::string& owner, const std::string& cube_id)> jobs_unfinished;
  };
  explicit CubeCommitter(Parts parts) : parts_(parts), materializer_(parts.store, parts.index) {}

  // Commits `request` (already validated) for `owner`; with `dry_run`, only
  // counts what would change. Logs one line per commit.
  absl::StatusOr<WorkspaceMaterializer::Result> Commit(
      const std::string& owner, const ::mlcube_remote::v1::CommitManifestRequest& request);

 private:
  // The manifest the request names, read (only one `owner` may read) and
  // validated.
  absl::StatusOr<::mlcube_remote::v1::Manifest> ReadRequestedManifest(
      const std::string& owner, const ::mlcube_remote::v1::CommitManifestRequest& request) const;
  // The quota check and splicing before a real commit.
  absl::Status Prepare(const std::string& owner, const std::string& cube_id,
                       const ::mlcube_remote::v1::Manifest& next) const;
  // Whether the tree still is what `previous` (the cube's committed
  // manifest) wrote: no job has used the workspace since that commit. A real
  // commit marks the record as used before anything changes (its own record
  // clears the mark), so a commit that does not finish leaves the next one
  // looking at the disk.
  absl::StatusOr<WorkspaceMaterializer::PreviousOnDisk> PreviousOnDisk(
      const std::string& owner, const std::string& cube_id,
      const ::mlcube_remote::v1::Manifest* previous, bool dry_run) const;

  Parts parts_;
  WorkspaceMaterializer materializer_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_WORKSPACES_CUBE_COMMITTER_H_
