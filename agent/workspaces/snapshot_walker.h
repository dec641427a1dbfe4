#ifndef MLCUBE_REMOTE_AGENT_WORKSPACES_SNAPSHOT_WALKER_H_
#define MLCUBE_REMOTE_AGENT_WORKSPACES_SNAPSHOT_WALKER_H_

// Walks workspace paths into manifest entries for a snapshot: a named path
// and, for a directory, everything below it (TreeWalker: no recursion,
// bounded by the manifest limits, never following a symlink). Regular files
// are hashed in place, not copied: reads are served from the file while it
// keeps its size and mtime (WorkspaceBlobIndex learns where each blob's
// bytes are). With a SnapshotDigestCache, a file that did not change since a
// snapshot hashed it is not read again. Files to read are hashed on two threads, biggest first,
// in batches of at most kMaxOpenFiles open files. Symlinks leaving the tree, sockets, FIFOs and
// devices are left out, as are the materializer's staging files. The entries together stay
// within ManifestValidator::kMaxManifestBytes (FAILED_PRECONDITION past it).

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/cas/chunk_splicer.h"
#include "agent/cas/workspace_blob_index.h"
#include "agent/workspaces/snapshot_digest_cache.h"
#include "common/digest.h"
#include "common/unique_fd.h"
#include "mlcube_remote/v1/manifest.pb.h"

namespace mlcube {

class SnapshotWalker {
 public:
  // Files held open, waiting to be hashed, before the walk stops to hash them.
  static constexpr size_t kMaxOpenFiles = 64;

  // `root` is the workspace's path (for the index). With `splitter`, big
  // files read for their digest are also split (their chunk list stored
  // for `owner`, remembered with the digest in `cache`, so a later pull that
  // asks for chunk lists need not read them again); entries carry their
  // chunk lists when `list_chunks`. `splitter` and `cache` may be null.
  // None owned.
  SnapshotWalker(WorkspaceBlobIndex* index, const std::string& root,
                 std::map<std::string, ::mlcube_remote::v1::ManifestEntry>* out,
                 const ChunkSplicer* splitter, bool list_chunks, std::string owner,
                 SnapshotDigestCache* cache)
      : index_(index),
        root_(root),
        out_(out),
        splitter_(splitter),
        list_chunks_(list_chunks && splitter != nullptr),
        owner_(std::move(owner)),
        cache_(cache) {}

  // Adds the entry `name` of `parent_fd`, whose workspace path is `rel`
  // ("" for the workspace itself), and all below it. NOT_FOUND when it does
  // not exist; PERMISSION_DENIED when the agent cannot read it (a task took
  // its own files' permissions away). Every entry is complete on return.
  absl::Status AddPath(int parent_fd, const std::string& name, const std::string& rel);

  // Regular files read and hashed so far (the others came from the cache).
  int64_t files_hashed() const { return files_hashed_; }

 private:
  // A regular file whose digest the cache did not know: open, waiting for
  // HashPending. Its entry in `out_` holds a placeholder digest until then.
  struct PendingFile {
    UniqueFd fd;
    struct stat before;
    std::string path;  // absolute
    std::string rel;
    int64_t clock_before_ns = 0;
  };

  absl::Status WalkPath(int parent_fd, const std::string& name, const std::string& rel);
  absl::Status AddEntry(int parent_fd, const std::string& name, const std::string& rel,
                        const struct stat& st);
  absl::Status AddFile(int parent_fd, const std::string& name, const std::string& rel,
                       ::mlcube_remote::v1::ManifestEntry* entry);
  // Hashes every pending file (two threads, biggest first), remembers the
  // digests in the cache and completes their entries.
  absl::Status HashPending();
  void Complete(const PendingFile& file, const SnapshotDigestCache::Digests& digests);
  // Whether cached digests give what this walk needs: for a big file whose
  // entry lists its chunks, a chunk list still stored and located.
  bool Usable(const SnapshotDigestCache::Digests& known, int64_t size) const;
  absl::StatusOr<SnapshotDigestCache::Digests> HashFile(int fd, int64_t size) const;
  void SetDigests(const SnapshotDigestCache::Digests& digests,
                  ::mlcube_remote::v1::ManifestEntry* entry) const;

  WorkspaceBlobIndex* index_;
  std::string root_;
  std::map<std::string, ::mlcube_remote::v1::ManifestEntry>* out_;
  const ChunkSplicer* splitter_;
  bool list_chunks_;
  std::string owner_;
  SnapshotDigestCache* cache_;
  int64_t bytes_ = 0;
  int64_t files_hashed_ = 0;
  std::vector<PendingFile> pending_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_WORKSPACES_SNAPSHOT_WALKER_H_
