#ifndef MLCUBE_REMOTE_AGENT_WORKSPACES_SNAPSHOT_WALKER_H_
#define MLCUBE_REMOTE_AGENT_WORKSPACES_SNAPSHOT_WALKER_H_

// Walks workspace paths into manifest entries for a snapshot: a named path
// and, for a directory, everything below it (TreeWalker: no recursion,
// bounded by the manifest limits, never following a symlink). Regular files
// are hashed in place, not copied: reads are served from the file while it
// keeps its size and mtime (WorkspaceBlobIndex learns where each blob's
// bytes are). Symlinks leaving the tree, sockets, FIFOs and devices are left
// out, as are the materializer's staging files. The entries together stay
// within ManifestValidator::kMaxManifestBytes (FAILED_PRECONDITION past it).

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/cas/chunk_splicer.h"
#include "agent/cas/workspace_blob_index.h"
#include "common/digest.h"
#include "mlcube_remote/v1/manifest.pb.h"

namespace mlcube {

class SnapshotWalker {
 public:
  // `root` is the workspace's path (for the index). With `splitter`, big
  // files also get a chunk list stored for `owner`. None owned.
  SnapshotWalker(WorkspaceBlobIndex* index, const std::string& root,
                 std::map<std::string, ::mlcube_remote::v1::ManifestEntry>* out,
                 const ChunkSplicer* splitter, std::string owner)
      : index_(index), root_(root), out_(out), splitter_(splitter), owner_(std::move(owner)) {}

  // Adds the entry `name` of `parent_fd`, whose workspace path is `rel`
  // ("" for the workspace itself), and all below it. NOT_FOUND when it does
  // not exist; PERMISSION_DENIED when the agent cannot read it (a task took
  // its own files' permissions away).
  absl::Status AddPath(int parent_fd, const std::string& name, const std::string& rel);

 private:
  absl::Status AddEntry(int parent_fd, const std::string& name, const std::string& rel,
                        const struct stat& st);
  absl::StatusOr<v1Digest> HashFile(int fd, int64_t size,
                                    ::mlcube_remote::v1::ManifestEntry* entry);

  WorkspaceBlobIndex* index_;
  std::string root_;
  std::map<std::string, ::mlcube_remote::v1::ManifestEntry>* out_;
  const ChunkSplicer* splitter_;
  std::string owner_;
  int64_t bytes_ = 0;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_WORKSPACES_SNAPSHOT_WALKER_H_
