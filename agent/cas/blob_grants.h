#ifndef MLCUBE_REMOTE_AGENT_CAS_BLOB_GRANTS_H_
#define MLCUBE_REMOTE_AGENT_CAS_BLOB_GRANTS_H_

// Which blobs each identity has proven it holds, by uploading them. The
// content store keeps identical data once for everybody, so without this
// record FindMissingBlobs would tell one identity what another stored and
// anyone knowing a digest could read the data. A grant is recorded only
// after the identity sent the whole content and it verified against the
// digest.
//
// Persisted per identity as STATE/grants/OWNER.list, one "HASH SIZE" line
// per grant, appended (a lost line after a power cut only costs a re-upload).
// Loaded on first use of an identity. Thread-safe.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/digest.h"

namespace mlcube {

class BlobGrants {
 public:
  // `dir` is created when missing.
  static absl::StatusOr<std::unique_ptr<BlobGrants>> Open(const std::string& dir);

  // Records that `owner` holds `digest` (idempotent).
  void Grant(const std::string& owner, const v1Digest& digest);
  // The same for many blobs with one append (a batch upload).
  void GrantAll(const std::string& owner, const std::vector<v1Digest>& digests);
  bool Granted(const std::string& owner, const v1Digest& digest);

  // Every blob granted to `owner`, hash -> size.
  absl::flat_hash_map<std::string, int64_t> GrantsOf(const std::string& owner);

 private:
  explicit BlobGrants(std::string dir) : dir_(std::move(dir)) {}
  // Loads the owner's list on first use. REQUIRES mu_.
  absl::flat_hash_map<std::string, int64_t>& LoadedLocked(const std::string& owner);

  std::string dir_;
  absl::Mutex mu_;
  std::map<std::string, absl::flat_hash_map<std::string, int64_t>> by_owner_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_CAS_BLOB_GRANTS_H_
