#ifndef MLCUBE_REMOTE_COMMON_ZSTD_CODEC_H_
#define MLCUBE_REMOTE_COMMON_ZSTD_CODEC_H_

// zstd for blob data on the wire (libzstd). As in the Remote Execution API's
// compressed-blobs/zstd, a digest always names the uncompressed bytes: the
// receiver decompresses and then verifies. Every frame carries its content
// size, and a receiver refuses a frame whose size is not the one it
// expects, so a small message can never expand into a large allocation.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mlcube {

class ZstdCodec {
 public:
  // Compresses `data` into `out` when that pays, deciding cheaply: blobs
  // under 512 bytes never; above 8 KiB, a sample of 8 KiB from the middle is
  // compressed at the fastest level first and must shrink by at least 10%
  // (random data, weights and archives cost one small trial); the result
  // must shrink by 10% too. False: send `data` as it is.
  static bool CompressIfWorthwhile(absl::string_view data, int level, std::string* out);

  // One frame with its content size; `level` as zstd's (1 fast .. 19).
  static std::string Compress(absl::string_view data, int level);

  // Decompresses one frame that must hold exactly `expected_size` bytes
  // (INVALID_ARGUMENT otherwise, or when it is not a valid frame).
  static absl::Status Decompress(absl::string_view frame, int64_t expected_size, std::string* out);

  // The content size a frame declares, or -1 when it declares none or is
  // not a frame.
  static int64_t FrameContentSize(absl::string_view frame);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_ZSTD_CODEC_H_
