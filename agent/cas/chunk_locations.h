#ifndef MLCUBE_REMOTE_AGENT_CAS_CHUNK_LOCATIONS_H_
#define MLCUBE_REMOTE_AGENT_CAS_CHUNK_LOCATIONS_H_

// Where the chunks of big files sit inside whole files. A client sends a big
// file whole when the agent holds none of its chunks (no delta can pay, and
// a whole file is written once where chunks are written twice), with its
// chunk list. At commit the agent records, for every chunk of the list, the
// whole file's digest and the chunk's offset in it, and stores no chunk blob.
// When a later version arrives as a chunk list, the chunks it shares with the
// earlier one are read from the earlier whole file (BlobAccess::ReadChunk
// verifies each against its digest, so a list that lied costs its sender a
// retry and misleads nobody).
//
// In memory only (rebuilt at start-up from the committed manifests), at most
// kMaxChunks chunks: past that the oldest lists are dropped and their chunks
// are simply sent again when needed. Thread-safe.

#include <array>
#include <cstdint>
#include <deque>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/digest.h"
#include "mlcube_remote/v1/manifest.pb.h"

namespace mlcube {

class ChunkLocations {
 public:
  // About 32 GiB of data in 64 KiB chunks, under 100 MiB of memory.
  static constexpr size_t kMaxChunks = 1 << 19;

  struct Location {
    v1Digest whole;
    int64_t offset = 0;
  };

  // Records the chunks of `list` as parts of the file `whole`. Lists whose
  // chunks do not add up to `whole`'s size are ignored.
  void AddList(const v1Digest& whole, const ::mlcube_remote::v1::ChunkList& list);

  // Whether the chunks of `whole` are recorded (a list added and not dropped).
  bool HasList(const v1Digest& whole) const;

  // Where `chunk` may be read (unverified: callers check what they read),
  // the most recently added list first.
  std::vector<Location> Find(const v1Digest& chunk) const;

  // Drops one location of `chunk` that did not verify.
  void Forget(const v1Digest& chunk, const v1Digest& whole);

  size_t size() const;

 private:
  using Key = std::array<uint8_t, 32>;
  struct Entry {
    Key whole;
    int64_t whole_size;
    int64_t offset;
    int64_t chunk_size;
  };
  static bool KeyOf(const v1Digest& digest, Key* key);
  bool HasListLocked(const Key& whole) const;  // REQUIRES mu_.
  void DropOldestLocked();
  // Drops `chunk`'s location inside `whole`, if any. REQUIRES mu_.
  void RemoveLocked(const Key& chunk, const Key& whole);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, std::vector<Entry>> by_chunk_;
  // Lists in the order they were added: (whole, its chunk keys).
  std::deque<std::pair<Key, std::vector<Key>>> lists_;
  size_t chunks_ = 0;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_CAS_CHUNK_LOCATIONS_H_
