#ifndef MLCUBE_REMOTE_CONTROLLER_SYNC_DELTA_FETCHER_H_
#define MLCUBE_REMOTE_CONTROLLER_SYNC_DELTA_FETCHER_H_

// Pulls a big file that the agent offers as a chunk list
// (ManifestEntry.chunk_list) when an older version of it is here: the
// chunks the local version already has are copied from it, only the others
// are fetched (in batches of at most 1 MiB), and the whole result is
// verified against the entry's digest. The local version is only read.

#include <cstdint>

#include "absl/status/statusor.h"
#include "controller/sync/blob_downloader.h"
#include "mlcube_remote/v1/manifest.pb.h"

namespace mlcube {

class DeltaFetcher {
 public:
  // A chunk list above this size is refused.
  static constexpr int64_t kMaxChunkListBytes = 64 << 20;

  explicit DeltaFetcher(BlobDownloader* downloader) : downloader_(downloader) {}

  // Writes the content of `entry` into `out` (from offset 0), using
  // `basis` (an open older version) for the chunks it shares. Returns the
  // bytes fetched. DATA_LOSS when the result does not match the digest.
  absl::StatusOr<int64_t> Fetch(const ::mlcube_remote::v1::ManifestEntry& entry, int basis,
                                int out);

 private:
  absl::StatusOr<::mlcube_remote::v1::ChunkList> LoadList(
      const ::mlcube_remote::v1::ManifestEntry& entry);

  BlobDownloader* downloader_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SYNC_DELTA_FETCHER_H_
