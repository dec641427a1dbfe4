#ifndef MLCUBE_REMOTE_COMMON_CONTENT_CHUNKER_H_
#define MLCUBE_REMOTE_COMMON_CONTENT_CHUNKER_H_

// Content-defined chunking (FastCDC: a gear rolling hash with normalised
// chunking, Xia et al., USENIX ATC 2016), as the Remote Execution API's
// SplitBlob uses. Cut points depend only on the bytes of the last 64 bytes
// before them, so an insertion or an append changes only the chunks around
// it and every other chunk keeps its digest: a big file that changed a little
// is sent as the few chunks that differ. Chunks are 16 KiB to 256 KiB,
// 64 KiB on average. Deterministic: the same bytes always give the same
// chunks, on every machine and in every version of this protocol (the gear
// table is generated from a fixed seed).

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "common/digest.h"

namespace mlcube {

class ContentChunker {
 public:
  static constexpr size_t kMinSize = 16 << 10;
  static constexpr size_t kAverageSize = 64 << 10;
  static constexpr size_t kMaxSize = 256 << 10;
  // Files at least this big are synced as chunk lists; smaller ones whole.
  static constexpr int64_t kChunkedFileMin = 1 << 20;

  // Length of the chunk that starts at `data[0]`. `size` must be at least
  // kMaxSize unless the data ends there (end of file).
  static size_t CutPoint(const uint8_t* data, size_t size);

  struct Chunk {
    int64_t offset = 0;
    int64_t size = 0;
    std::array<uint8_t, 32> sha256{};
  };
  struct FileChunks {
    v1Digest digest;  // of the whole file
    std::vector<Chunk> chunks;
  };

  // Where ChunkFd hashes: in the pass that reads and cuts (one core), or on a
  // thread of its own beside it, which then computes both the whole file's
  // digest and each chunk's (two cores: for a file hashed while the other
  // core has nothing to do; reading and cutting cost about what one SHA-256
  // pass does, so the two threads stay busy alike).
  enum class WholeDigest { kSameThread, kOwnThread };

  // Reads `fd` once from offset 0 to its end (pread: the file position is
  // untouched), with a buffer of a few hundred KiB whatever the file's size
  // (plus at most 8 MiB queued for the digest's thread), and returns the
  // file's digest with its chunks and theirs.
  static absl::StatusOr<FileChunks> ChunkFd(int fd, WholeDigest whole = WholeDigest::kSameThread);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_CONTENT_CHUNKER_H_
