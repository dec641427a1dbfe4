#include "common/content_chunker.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/background_sha256.h"

namespace mlcube {

namespace {

// 256 pseudo-random 64-bit values from splitmix64 with a fixed seed: part of
// the protocol (changing it changes every chunk boundary).
struct GearTable {
  uint64_t value[256];
  GearTable() {
    uint64_t state = 0x6d6c637562652d31ULL;  // "mlcube-1"
    for (uint64_t& v : value) {
      state += 0x9e3779b97f4a7c15ULL;
      uint64_t z = state;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      v = z ^ (z >> 31);
    }
  }
};

const GearTable& Gear() {
  static const GearTable* table = new GearTable();
  return *table;
}

// Normalised chunking: below the average size a cut needs 18 zero bits (less
// likely), above it 14 (more likely), which narrows the size distribution
// around 64 KiB = 2^16. The gear hash shifts left, so its top bits depend on
// the most recent bytes: the masks take top bits.
constexpr uint64_t kMaskSmall = ((uint64_t{1} << 18) - 1) << (64 - 18);
constexpr uint64_t kMaskLarge = ((uint64_t{1} << 14) - 1) << (64 - 14);

}  // namespace

size_t ContentChunker::CutPoint(const uint8_t* data, size_t size) {
  if (size <= kMinSize) return size;
  const size_t limit = size < kMaxSize ? size : kMaxSize;
  const size_t normal = size < kAverageSize ? size : kAverageSize;
  const uint64_t* gear = Gear().value;
  uint64_t hash = 0;
  // Bytes before kMinSize cannot end a chunk; the hash only needs the last
  // 64 of them.
  size_t i = kMinSize - 64;
  for (; i < kMinSize; ++i) hash = (hash << 1) + gear[data[i]];
  for (; i < normal; ++i) {
    hash = (hash << 1) + gear[data[i]];
    if ((hash & kMaskSmall) == 0) return i + 1;
  }
  for (; i < limit; ++i) {
    hash = (hash << 1) + gear[data[i]];
    if ((hash & kMaskLarge) == 0) return i + 1;
  }
  return limit;
}

absl::StatusOr<ContentChunker::FileChunks> ContentChunker::ChunkFd(int fd, WholeDigest how) {
  constexpr size_t kBuffer = 4 * kMaxSize;
  std::vector<uint8_t> buffer(kBuffer);
  size_t begin = 0;         // start of the next chunk in `buffer`
  size_t end = 0;           // bytes read into `buffer`
  int64_t file_offset = 0;  // file offset of buffer[0]
  bool eof = false;
  FileChunks out;
  Sha256 whole;
  std::optional<BackgroundSha256> whole_aside;
  if (how == WholeDigest::kOwnThread) whole_aside.emplace();
  for (;;) {
    // Keep at least kMaxSize bytes ahead of `begin` until the end of file.
    if (!eof && end - begin < kMaxSize) {
      memmove(buffer.data(), buffer.data() + begin, end - begin);
      file_offset += static_cast<int64_t>(begin);
      end -= begin;
      begin = 0;
      while (!eof && end < kBuffer) {
        ssize_t n =
            pread(fd, buffer.data() + end, kBuffer - end, file_offset + static_cast<int64_t>(end));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return absl::InternalError(absl::StrCat("read: ", strerror(errno)));
        if (n == 0) eof = true;
        if (!whole_aside) whole.Update(buffer.data() + end, static_cast<size_t>(n));
        end += static_cast<size_t>(n);
      }
    }
    if (begin == end) break;
    const size_t len = CutPoint(buffer.data() + begin, end - begin);
    Chunk chunk;
    chunk.offset = file_offset + static_cast<int64_t>(begin);
    chunk.size = static_cast<int64_t>(len);
    if (whole_aside) {
      // Both hashes of the chunk on the other thread: this one reads and cuts.
      whole_aside->AddChunk(buffer.data() + begin, len);
    } else {
      Sha256 sha;
      sha.Update(buffer.data() + begin, len);
      chunk.sha256 = sha.FinishRaw();
    }
    out.chunks.push_back(chunk);
    begin += len;
  }
  if (!whole_aside) {
    out.digest = whole.Finish();
    return out;
  }
  out.digest = whole_aside->Finish();
  const std::vector<std::array<uint8_t, 32>>& digests = whole_aside->ChunkDigests();
  for (size_t i = 0; i < out.chunks.size() && i < digests.size(); ++i) {
    out.chunks[i].sha256 = digests[i];
  }
  return out;
}

}  // namespace mlcube
