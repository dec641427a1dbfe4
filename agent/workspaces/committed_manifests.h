#ifndef MLCUBE_REMOTE_AGENT_WORKSPACES_COMMITTED_MANIFESTS_H_
#define MLCUBE_REMOTE_AGENT_WORKSPACES_COMMITTED_MANIFESTS_H_

// The manifests that commit records name, read from the content store, and
// what they reference: for the blob collector (what must stay), the storage
// quota (chunks counted through the workspaces that hold them) and the
// start-up index. A manifest blob is never read by more than
// ManifestValidator::kMaxManifestBytes; one that is missing or does not
// parse is skipped.

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "agent/cas/blob_store.h"
#include "agent/workspaces/commit_records.h"
#include "common/digest.h"
#include "mlcube_remote/v1/manifest.pb.h"

namespace mlcube {

// The manifest blob `digest`: FAILED_PRECONDITION when it is too big or not
// in the store, INVALID_ARGUMENT when it does not parse; each names it.
absl::StatusOr<::mlcube_remote::v1::Manifest> LoadManifest(const BlobStore& store,
                                                           const v1Digest& digest);

class CommittedManifests {
 public:
  // Neither owned; both outlive this object.
  CommittedManifests(const CommitRecords* records, const BlobStore* store)
      : records_(records), store_(store) {}

  // The manifest of the cube's commit; null when there is none or it is
  // unreadable.
  std::unique_ptr<::mlcube_remote::v1::Manifest> Of(const std::string& owner,
                                                    const std::string& cube_id) const;

  // Calls `visit` with every readable committed manifest.
  using Visitor = std::function<void(const std::string& owner, const std::string& cube_id,
                                     const ::mlcube_remote::v1::Manifest&)>;
  void ForEach(const Visitor& visit) const;

  // Every committed manifest blob, its files' blobs and their chunk lists
  // (not the chunks: those age out of the cache by LRU, and the next change
  // of a file sends more of it again).
  absl::flat_hash_set<std::string> ReferencedBlobs() const;

  // The chunk and chunk-list hashes of the big files in `owner`'s committed
  // manifests.
  absl::flat_hash_set<std::string> ChunksOf(const std::string& owner) const;

 private:
  const CommitRecords* records_;
  const BlobStore* store_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_WORKSPACES_COMMITTED_MANIFESTS_H_
