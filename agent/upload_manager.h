#ifndef MLCUBE_REMOTE_AGENT_UPLOAD_MANAGER_H_
#define MLCUBE_REMOTE_AGENT_UPLOAD_MANAGER_H_

// Resumable streamed uploads. A partial upload lives in
// STATE/uploads/HASH-SIZE.part; its length is the committed offset, so an
// upload interrupted by a dropped connection or a killed agent resumes where
// the data stopped. The digest is verified over the whole file before the
// blob enters the BlobStore; a mismatch discards the partial file.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/blob_store.h"
#include "agent/upload_session.h"

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
  Status GetStatus(const v1Digest& digest) const;

  // Starts or resumes an upload at `offset`, which must equal the committed
  // offset (FAILED_PRECONDITION otherwise, naming it). ABORTED when another
  // stream is uploading the same digest right now.
  absl::StatusOr<std::unique_ptr<UploadSession>> Begin(const v1Digest& digest, int64_t offset);

 private:
  friend class UploadSession;
  UploadManager(std::string dir, BlobStore* store) : dir_(std::move(dir)), store_(store) {}
  std::string PartPath(const v1Digest& digest) const;
  void Release(const std::string& key);

  std::string dir_;
  BlobStore* store_;
  mutable std::mutex mu_;
  absl::flat_hash_set<std::string> active_;  // digest keys with an open session
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_UPLOAD_MANAGER_H_
