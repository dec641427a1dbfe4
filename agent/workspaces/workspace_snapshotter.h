#ifndef MLCUBE_REMOTE_AGENT_WORKSPACES_WORKSPACE_SNAPSHOTTER_H_
#define MLCUBE_REMOTE_AGENT_WORKSPACES_WORKSPACE_SNAPSHOTTER_H_

// Snapshots of a cube's workspace for pulls: the named workspace paths (all
// of it when none are named) walked into a manifest (SnapshotWalker), which
// is stored in the content store and granted to the caller, who reads it
// next. Paths are opened below the workspace without following symlinks.
// Files unchanged since an earlier snapshot are not hashed again
// (SnapshotDigestCache, kept here for the agent's lifetime). Thread-safe
// (each snapshot has its own walk).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/cas/blob_access.h"
#include "agent/cas/blob_store.h"
#include "agent/cas/chunk_splicer.h"
#include "agent/cas/workspace_blob_index.h"
#include "agent/state/state_layout.h"
#include "agent/workspaces/snapshot_digest_cache.h"
#include "common/digest.h"
#include "mlcube_remote/v1/manifest.pb.h"

namespace mlcube {

class WorkspaceSnapshotter {
 public:
  // None owned; all outlive the snapshotter.
  WorkspaceSnapshotter(const StateLayout* layout, BlobStore* store, WorkspaceBlobIndex* index,
                       BlobAccess* access, const ChunkSplicer* splicer)
      : layout_(layout), store_(store), index_(index), access_(access), splicer_(splicer) {}

  struct Request {
    std::string cube_id;             // validated
    std::vector<std::string> paths;  // workspace-relative; empty: the whole workspace
    bool tolerate_missing = false;   // a missing path is left out instead of NOT_FOUND
    bool chunk_big_files = false;    // big files also get a stored chunk list
  };
  struct Result {
    v1Digest manifest;  // stored and granted to the owner
    int64_t file_count = 0;
    int64_t total_bytes = 0;
    int64_t files_hashed = 0;  // read and hashed (the others were known)
  };

  // NOT_FOUND when the cube has no workspace, or a path is missing (unless
  // tolerated); INVALID_ARGUMENT for a path that is not a workspace path;
  // PERMISSION_DENIED for one the agent cannot read.
  absl::StatusOr<Result> Take(const std::string& owner, const Request& request) const;

 private:
  absl::StatusOr<Result> Store(
      const std::string& owner,
      std::map<std::string, ::mlcube_remote::v1::ManifestEntry>* entries) const;

  const StateLayout* layout_;
  BlobStore* store_;
  WorkspaceBlobIndex* index_;
  BlobAccess* access_;
  const ChunkSplicer* splicer_;
  // Thread-safe; filled by snapshots, which are logically const.
  mutable SnapshotDigestCache digests_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_WORKSPACES_WORKSPACE_SNAPSHOTTER_H_
