#ifndef MLCUBE_REMOTE_COMMON_BACKGROUND_SHA256_H_
#define MLCUBE_REMOTE_COMMON_BACKGROUND_SHA256_H_

// SHA-256 of a stream of byte pieces, computed on a thread of its own, so
// that whoever reads, cuts or writes those bytes does so on one core while
// they are hashed on another. Pieces are hashed in the order they were added;
// a piece added as a chunk also gets a digest of its own there (content-defined
// chunks: the caller only cuts, the second core does both hashes).
// At most `max_queued_bytes` wait at a time (Add blocks beyond that), so
// memory stays bounded whatever the caller's pace. Where no thread can be
// started, pieces are hashed as they are added. One instance per stream; it
// is used from one thread.

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/digest.h"

namespace mlcube {

class BackgroundSha256 {
 public:
  explicit BackgroundSha256(size_t max_queued_bytes = 8 << 20);
  // Stops the thread; a result not asked for is dropped.
  ~BackgroundSha256();
  BackgroundSha256(const BackgroundSha256&) = delete;
  BackgroundSha256& operator=(const BackgroundSha256&) = delete;

  void Add(std::string piece) { Queue(std::move(piece), /*chunk=*/false); }
  void Add(const void* data, size_t size) {
    Add(std::string(static_cast<const char*>(data), size));
  }
  // Adds a piece that also gets its own digest (see ChunkDigests).
  void AddChunk(const void* data, size_t size) {
    Queue(std::string(static_cast<const char*>(data), size), /*chunk=*/true);
  }
  // Waits for every piece, then finishes the hash: call once, then nothing
  // more.
  v1Digest Finish();
  // After Finish: the SHA-256 of each piece added with AddChunk, in order.
  const std::vector<std::array<uint8_t, 32>>& ChunkDigests() const { return chunk_digests_; }

 private:
  struct Piece {
    std::string bytes;
    bool chunk = false;
  };
  void Queue(std::string piece, bool chunk);
  void Hash(const Piece& piece);
  void Run();
  void Stop();

  const size_t max_queued_bytes_;
  absl::Mutex mu_;
  std::deque<Piece> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  Sha256 sha_;  // the thread's until it is joined, like chunk_digests_
  std::vector<std::array<uint8_t, 32>> chunk_digests_;
  std::thread thread_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_BACKGROUND_SHA256_H_
