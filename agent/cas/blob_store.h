#ifndef MLCUBE_REMOTE_AGENT_CAS_BLOB_STORE_H_
#define MLCUBE_REMOTE_AGENT_CAS_BLOB_STORE_H_

// Content-addressed blobs on the agent's disk, STATE/blobs/HH/HASH, where HH
// is the first two hex characters. A blob file only ever appears under its
// final name by rename(2) after its digest was verified, so a reader never
// sees a partial blob. Blobs are not fsynced one by one: the workspace commit
// issues one syncfs before it renames anything into a workspace (see
// WorkspaceMaterializer), which is what makes the data durable; Has() checks
// the size so a blob truncated by a power loss counts as missing.
//
// The store is shared by all owners: identical data is stored once.
// Thread-safe: every operation is a single filesystem operation or works on
// its own temp file.

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/digest.h"

namespace mlcube {

class BlobStore {
 public:
  // `root` is created when missing (with its temp dir).
  static absl::StatusOr<BlobStore> Open(const std::string& root);

  const std::string& root() const { return root_; }

  // Final path of a blob (whether or not it exists).
  std::string PathOf(const v1Digest& digest) const;

  // True when the blob is present with the right size.
  bool Has(const v1Digest& digest) const;

  // Verifies `data` against `digest` and stores it. INVALID_ARGUMENT when the
  // digest does not match, RESOURCE_EXHAUSTED when the disk is full.
  absl::Status Put(const v1Digest& digest, absl::string_view data);

  // Moves an already verified file (on the same filesystem) into place.
  absl::Status Adopt(const v1Digest& digest, const std::string& verified_path);

  // Copies a file's content into the store after hashing it; returns its
  // digest. Used for snapshots of agent-side files.
  absl::StatusOr<v1Digest> ImportFile(int fd);

  // Reads a whole blob (for small blobs and manifests).
  absl::StatusOr<std::string> Read(const v1Digest& digest) const;

  // Marks a blob as recently used (its mtime), for LRU collection.
  void Touch(const v1Digest& digest) const;

  // A fresh temp path inside the store's filesystem, for writers that rename
  // into the store.
  std::string NewTempPath() const;

  struct GcResult {
    int64_t bytes_before = 0;
    int64_t bytes_after = 0;
    int64_t blobs_removed = 0;
  };
  // Removes unreferenced blobs, least recently used first, until the store
  // holds at most `cap_bytes`. Blobs younger than `min_age_seconds` are kept
  // (an upload in flight is not yet referenced by any committed manifest).
  // `referenced` holds blob hashes.
  absl::StatusOr<GcResult> CollectGarbage(int64_t cap_bytes,
                                          const absl::flat_hash_set<std::string>& referenced,
                                          int64_t min_age_seconds) const;

 private:
  explicit BlobStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_CAS_BLOB_STORE_H_
