#ifndef MLCUBE_REMOTE_CONTROLLER_SYNC_BLOB_DOWNLOADER_H_
#define MLCUBE_REMOTE_CONTROLLER_SYNC_BLOB_DOWNLOADER_H_

// Reads blobs from the agent's ContentStore and verifies each against its
// digest: small ones in batches of at most 1 MiB, large ones streamed
// straight into a file so no big blob is ever held in memory.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/digest.h"
#include "mlcube_remote/v1/content_store.grpc.pb.h"

namespace mlcube {

class BlobDownloader {
 public:
  explicit BlobDownloader(::mlcube_remote::v1::ContentStore::Stub* cas) : cas_(cas) {}

  // Largest blob ReadSmall holds in memory (a manifest or chunk list).
  static constexpr int64_t kMaxSmallBlobBytes = int64_t{64} << 20;

  // A whole blob in memory (manifests); DATA_LOSS when it does not match,
  // FAILED_PRECONDITION (before reading) when its digest says more than
  // kMaxSmallBlobBytes.
  absl::StatusOr<std::string> ReadSmall(const v1Digest& digest);

  // Streams a blob into `fd` from its offset 0; DATA_LOSS when it does not
  // match (the file then holds garbage the caller discards).
  absl::Status ReadToFile(const v1Digest& digest, int fd);

  // One BatchReadBlobs call for blobs summing to at most 1 MiB; `sink` gets
  // each verified blob.
  absl::Status ReadBatch(
      const std::vector<v1Digest>& digests,
      const std::function<absl::Status(const v1Digest&, const std::string&)>& sink);

 private:
  ::mlcube_remote::v1::ContentStore::Stub* cas_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SYNC_BLOB_DOWNLOADER_H_
