#ifndef MLCUBE_REMOTE_AGENT_CAS_UPLOAD_MANAGER_H_
#define MLCUBE_REMOTE_AGENT_CAS_UPLOAD_MANAGER_H_

// Resumable streamed uploads. A partial upload lives in
// STATE/uploads/OWNER/HASH-SIZE.part (each identity resumes only its own
// uploads: nobody learns of, or finishes, another's partial data); its
// length is the committed offset, so an
// upload interrupted by a dropped connection or a killed agent resumes where
// the data stopped. The digest is verified over the whole file before the
// blob enters the BlobStore; a mismatch discards the partial file.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agent/cas/blob_store.h"
#include "agent/cas/upload_session.h"

namespace mlcube {

class UploadManager {
 public:
  // `dir` is created when missing; it must be on the blob store's filesystem.
  static absl::StatusOr<std::unique_ptr<UploadManager>> Create(const std::string& dir,
                                                               BlobStore* store);

  struct Status {
    int64_t committed_offset = 0;
    bool complete = false;
  };
  // The owner's partial upload of `digest` (never complete: whether the
  // owner already holds the blob is BlobAccess's to say).
  Status GetStatus(const std::string& owner, const v1Digest& digest) const;

  // Starts or resumes the owner's upload at `offset`, which must equal the
  // committed offset (FAILED_PRECONDITION otherwise, naming it). ABORTED
  // when another stream of the owner is uploading the same digest right now.
  // With `already_held` the session is complete at once (nothing to write).
  absl::StatusOr<std::unique_ptr<UploadSession>> Begin(const std::string& owner,
                                                       const v1Digest& digest, int64_t offset,
                                                       bool already_held);

  // Bytes of the owner's partial uploads.
  int64_t PartialBytes(const std::string& owner) const;

 private:
  friend class UploadSession;
  UploadManager(std::string dir, BlobStore* store) : dir_(std::move(dir)), store_(store) {}
  std::string OwnerDir(const std::string& owner) const { return dir_ + "/" + owner; }
  std::string PartPath(const std::string& owner, const v1Digest& digest) const;
  void Release(const std::string& key);

  std::string dir_;
  BlobStore* store_;
  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> active_;  // OWNER/DIGEST with an open session
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_CAS_UPLOAD_MANAGER_H_
