#ifndef MLCUBE_REMOTE_AGENT_WORKSPACES_WORKSPACE_MATERIALIZER_H_
#define MLCUBE_REMOTE_AGENT_WORKSPACES_WORKSPACE_MATERIALIZER_H_

// Makes a directory tree match a validated Manifest, copying file content out
// of the BlobStore. Properties:
//  - Each file is replaced atomically: its new content is staged in a temp
//    file in the same directory and renamed over the old one, so a crash
//    leaves the old or the new file, never a mix.
//  - All or nothing for the common failure (disk full, missing blob): every
//    file is staged before the first rename; on a staging error the temp
//    files and new directories are removed and the tree is left unchanged.
//  - Durability costs two syncfs calls per commit instead of an fsync per
//    file: one after staging (the staged data and the blobs it came from are
//    on disk before any rename), one after the renames.
//  - Data is written once: the last use of a blob in a commit is moved
//    (renamed) out of the store into the workspace, other uses are copies;
//    WorkspaceBlobIndex remembers where the content went. A workspace file
//    never shares an inode with a blob (no hard links): a task writing into
//    an input file cannot corrupt the store.
//  - No write follows a symlink: directories are walked with O_NOFOLLOW, so
//    a symlink a task planted inside the tree cannot redirect a write.
//  - Files that the previous manifest did not list (task outputs) are never
//    removed; with `prune`, files the previous manifest listed and the new
//    one does not are removed.

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "agent/cas/blob_store.h"
#include "agent/cas/workspace_blob_index.h"
#include "mlcube_remote/v1/manifest.pb.h"

namespace mlcube {

class WorkspaceMaterializer {
 public:
  // `index` may be null (then only the store provides content).
  WorkspaceMaterializer(BlobStore* store, WorkspaceBlobIndex* index)
      : store_(store), index_(index) {}

  struct Result {
    int64_t files_written = 0;
    int64_t files_removed = 0;
    int64_t bytes_written = 0;
    int64_t files_unchanged = 0;
    // Where the time went (for the agent's log).
    double stage_seconds = 0;
    double sync_seconds = 0;
    double place_seconds = 0;
  };

  // Whether the committing identity may use a blob it has to write (its
  // view of the store, see BlobAccess). Unset: any blob present may be used.
  using BlobFilter = std::function<bool(const v1Digest&)>;

  // What the tree under `root` is known to hold of the previous commit.
  enum class PreviousOnDisk {
    // Nothing: every entry of the next manifest is looked at on disk.
    kCheck,
    // Exactly what it wrote (that commit finished, and no job has used the
    // workspace since: the agent alone writes there then). An entry the
    // next manifest lists as the previous one did is taken as it is, with
    // no look at the disk: an unchanged tree costs no walk.
    kAsCommitted,
  };

  // `root` is created when missing. `previous` may be null (first commit).
  // Both manifests must have passed ManifestValidator. With `dry_run`, only
  // counts what would change. A file to write whose blob is absent or not
  // `may_use` fails the commit before anything changes.
  absl::StatusOr<Result> Apply(const std::string& root,
                               const ::mlcube_remote::v1::Manifest* previous,
                               const ::mlcube_remote::v1::Manifest& next, bool prune, bool dry_run,
                               const BlobFilter& may_use = nullptr,
                               PreviousOnDisk previous_on_disk = PreviousOnDisk::kCheck) const;

 private:
  BlobStore* store_;
  WorkspaceBlobIndex* index_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_WORKSPACES_WORKSPACE_MATERIALIZER_H_
