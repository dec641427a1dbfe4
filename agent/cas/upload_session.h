#ifndef MLCUBE_REMOTE_AGENT_CAS_UPLOAD_SESSION_H_
#define MLCUBE_REMOTE_AGENT_CAS_UPLOAD_SESSION_H_

// One streamed upload of one blob, created by UploadManager::Begin. Chunks
// must arrive in order; each is written at the current offset and hashed on
// the way, so finishing costs no second read of the data.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/digest.h"
#include "common/unique_fd.h"

namespace mlcube {

class UploadManager;

class UploadSession {
 public:
  ~UploadSession();
  UploadSession(const UploadSession&) = delete;
  UploadSession& operator=(const UploadSession&) = delete;

  // Bytes stored so far (the offset the next chunk must start at).
  int64_t offset() const { return offset_; }
  // True when the owner already holds the blob (nothing to write) or the
  // upload finished.
  bool complete() const { return complete_; }

  // Appends a chunk that starts at `offset`. OUT_OF_RANGE when it would go
  // past the digest's size, FAILED_PRECONDITION when the offset is not the
  // current one, RESOURCE_EXHAUSTED when the disk is full (the partial file
  // keeps what was stored before this chunk).
  absl::Status Write(int64_t offset, absl::string_view data);

  // Verifies the digest and moves the blob into the store. A mismatch
  // discards the partial upload and returns INVALID_ARGUMENT.
  absl::Status Finish();

 private:
  friend class UploadManager;
  UploadSession(UploadManager* manager, std::string active_key, v1Digest digest,
                std::string part_path);

  UploadManager* manager_;
  std::string active_key_;
  v1Digest digest_;
  std::string part_path_;
  UniqueFd fd_;
  Sha256 sha_;
  int64_t offset_ = 0;
  bool complete_ = false;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_CAS_UPLOAD_SESSION_H_
