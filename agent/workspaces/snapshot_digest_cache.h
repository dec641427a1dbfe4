#ifndef MLCUBE_REMOTE_AGENT_WORKSPACES_SNAPSHOT_DIGEST_CACHE_H_
#define MLCUBE_REMOTE_AGENT_WORKSPACES_SNAPSHOT_DIGEST_CACHE_H_

// The digests snapshots computed, by workspace file, so that a later
// snapshot does not read again a file that did not change (a pull after each
// run would otherwise hash every older output again).
//
// A digest is trusted only while the file shows the same device, inode,
// size, mtime and change time as when it was hashed. Every write, truncate,
// chmod, utimes or rename sets a file's change time to the current time, and
// no unprivileged process can set it back, so a task that rewrote a file
// (even restoring its size and mtime) cannot pass its old digest off. A
// file changed in the coarse clock tick its hash started in could change
// again within that tick without its change time moving: such a file is not
// remembered (see WorkspaceBlobIndex::SealOf). The client verifies what it
// reads in any case.
//
// In memory only (an agent restart hashes again), at most kMaxFiles files:
// past that it starts over empty. Thread-safe.

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/digest.h"

namespace mlcube {

class SnapshotDigestCache {
 public:
  // About 0.4 KiB a file (path, key, digests): 40 MiB at most.
  static constexpr size_t kMaxFiles = 100000;

  // What identifies one version of a file.
  struct FileKey {
    uint64_t dev = 0;
    uint64_t ino = 0;
    int64_t size = 0;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    bool operator==(const FileKey& other) const;
  };
  static FileKey KeyOf(const struct stat& st);

  struct Digests {
    v1Digest whole;
    // The stored ChunkList of a big file split for the snapshot; unset for
    // the others.
    std::optional<v1Digest> chunk_list;
  };

  // The digests recorded for the file at absolute `path` when it still
  // shows `key`, else nullopt.
  std::optional<Digests> Find(const std::string& path, const FileKey& key) const;

  // Records what hashing the file at `path` gave. `before` and `after` are
  // its stat keys before and after the hash, `clock_before_ns` the coarse
  // real-time clock read before `before`. Nothing is recorded (and any
  // older record dropped) when the file changed during the hash or may
  // still change within the clock tick of its last change.
  void Put(const std::string& path, const FileKey& before, const FileKey& after,
           int64_t clock_before_ns, Digests digests);

  size_t size() const;

 private:
  struct Record {
    FileKey key;
    Digests digests;
  };
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Record> records_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_WORKSPACES_SNAPSHOT_DIGEST_CACHE_H_
