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
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
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

  // Memory for a piece that is filled before it is added (a read): not
  // zeroed first, unlike a std::string of that size.
  using Buffer = std::unique_ptr<char[]>;
  static Buffer NewBuffer(size_t size) { return Buffer(new char[size]); }

  void Add(std::string piece) { Queue(Piece{std::move(piece), nullptr, 0, /*chunk=*/false}); }
  // Adds the first `size` bytes of `buffer`.
  void Add(Buffer buffer, size_t size) { Queue(Piece{{}, std::move(buffer), size, false}); }
  void Add(const void* data, size_t size) {
    Add(std::string(static_cast<const char*>(data), size));
  }
  // Adds a piece that also gets its own digest (see ChunkDigests).
  void AddChunk(const void* data, size_t size) {
    Queue(Piece{std::string(static_cast<const char*>(data), size), nullptr, 0, /*chunk=*/true});
  }
  // Waits for every piece, then finishes the hash: call once, then nothing
  // more.
  v1Digest Finish();
  // After Finish: the SHA-256 of each piece added with AddChunk, in order.
  const std::vector<std::array<uint8_t, 32>>& ChunkDigests() const { return chunk_digests_; }

 private:
  struct Piece {
    std::string bytes;  // or, when `buffer` is set, its first `buffer_size` bytes
    Buffer buffer;
    size_t buffer_size = 0;
    bool chunk = false;

    absl::string_view data() const {
      return buffer ? absl::string_view(buffer.get(), buffer_size) : absl::string_view(bytes);
    }
  };
  void Queue(Piece piece);
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
