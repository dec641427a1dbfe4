#ifndef MLCUBE_REMOTE_CONTROLLER_SYNC_BLOB_UPLOADER_H_
#define MLCUBE_REMOTE_CONTROLLER_SYNC_BLOB_UPLOADER_H_

// Sends blobs to the agent's ContentStore: asks which are missing, uploads
// small ones in batches of at most 1 MiB and streams large ones in 1 MiB
// messages, resuming an interrupted stream from the offset the agent has
// committed. A blob's bytes come from a range of a local file (read when
// sent, so no file is ever held in memory whole) or from memory.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "common/digest.h"
#include "controller/sync/compression_policy.h"
#include "controller/terminal/progress_reporter.h"
#include "mlcube_remote/v1/content_store.grpc.pb.h"

namespace mlcube {

// One blob to upload: `digest` names the bytes of `file` from `offset` on
// (a whole file, or one chunk of a big one), or of `*memory`.
struct UploadItem {
  v1Digest digest;
  std::string file;  // absolute path (for memory: a name for messages, or empty)
  int64_t offset = 0;
  const std::string* memory = nullptr;
  // Counts as a file in progress and statistics (chunks and lists do not).
  bool counts_as_file = true;
};

class BlobUploader {
 public:
  // Blobs up to this size travel in batches; larger ones are streamed.
  static constexpr int64_t kBatchThreshold = 256 << 10;

  explicit BlobUploader(::mlcube_remote::v1::ContentStore::Stub* cas) : cas_(cas) {}

  // Compress blob data with zstd as `policy` says (only for an agent that
  // lists the "zstd" feature). Unset: everything is sent as it is.
  void set_compression(CompressionPolicy* policy) { compression_ = policy; }

  // Hashes of the digests the agent lacks (for this caller).
  absl::StatusOr<absl::flat_hash_set<std::string>> FindMissing(
      const std::vector<v1Digest>& digests);

  // Uploads every item (large ones first, on several threads); returns the
  // payload bytes actually sent (after compression).
  absl::StatusOr<int64_t> UploadAll(const std::vector<const UploadItem*>& items,
                                    ProgressReporter* progress);

  // One streamed, resumable upload; returns the bytes sent (0 when the agent
  // already had the blob).
  absl::StatusOr<int64_t> UploadStreamed(const UploadItem& item, ProgressReporter* progress);

  // One BatchUploadBlobs call; the items' sizes sum to at most 1 MiB.
  absl::StatusOr<int64_t> UploadBatch(const std::vector<const UploadItem*>& batch,
                                      ProgressReporter* progress);

 private:
  // One attempt of a streamed upload starting at `offset`.
  absl::StatusOr<int64_t> StreamFrom(const UploadItem& item, int64_t offset,
                                     ::mlcube_remote::v1::UploadBlobResponse* response,
                                     grpc::Status* rpc_status, ProgressReporter* progress);
  absl::StatusOr<::mlcube_remote::v1::GetUploadStatusResponse> UploadStatus(const v1Digest& digest);

  // Replaces `data` by its zstd frame when the policy and the data say so.
  ::mlcube_remote::v1::Compressor MaybeCompress(std::string* data) const;

  ::mlcube_remote::v1::ContentStore::Stub* cas_;
  CompressionPolicy* compression_ = nullptr;
};

// What a blob is called in messages: its file (with the offset of a chunk),
// the name given to one built in memory, or "the manifest".
std::string DescribeItem(const UploadItem& item);

// Reads `size` bytes of the item starting `at` bytes into the blob.
absl::Status ReadItemRange(const UploadItem& item, int fd, int64_t at, int64_t size,
                           std::string* out);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SYNC_BLOB_UPLOADER_H_
