#ifndef MLCUBE_REMOTE_CONTROLLER_SYNC_SCAN_CACHE_H_
#define MLCUBE_REMOTE_CONTROLLER_SYNC_SCAN_CACHE_H_

// Remembers the SHA-256 of every scanned file under its (size, mtime, ctime,
// inode), so a re-scan hashes only files that changed (as Mutagen does).
// ctime is in the key because it changes on every write even when a tool
// restores mtime. One compact binary file per cube under
// ~/.cache/mlcube-remote/scan/ (or $XDG_CACHE_HOME); a missing, corrupt or
// foreign-version file is just an empty cache.
//
// A big file's record also keeps its content-defined chunks (see
// ContentChunker), so an unchanged big file is never read again to list them.
//
// Each record also says whether its content is what the agent has (the last
// push committed it, or a pull wrote it): a pull may overwrite a local file
// only when it is unchanged since then.

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mlcube {

// The controller's own state directory: $XDG_CACHE_HOME/mlcube-remote, else
// ~/.cache/mlcube-remote, else /tmp/mlcube-remote.
std::string ControllerCacheDir();

class ScanCache {
 public:
  struct ChunkRef {
    std::array<uint8_t, 32> sha256{};
    uint32_t size = 0;
  };
  struct Record {
    int64_t size = 0;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    uint64_t inode = 0;
    std::array<uint8_t, 32> sha256{};
    // The agent has this content at this path.
    bool synced = false;
    // A container image found by content (SIF magic, docker save archive).
    bool image = false;
    // Chunks of a file synced in chunks, in order; empty for the others.
    std::vector<ChunkRef> chunks;
  };

  ScanCache() = default;
  // Keys point into the loaded file and into stored paths: moved, never copied.
  ScanCache(ScanCache&&) = default;
  ScanCache& operator=(ScanCache&&) = default;
  ScanCache(const ScanCache&) = delete;
  ScanCache& operator=(const ScanCache&) = delete;

  // Loads `file`; any problem yields an empty cache bound to `file`.
  static ScanCache Load(const std::string& file);

  // Default cache file for a cube directory (absolute path).
  static std::string DefaultFileFor(absl::string_view cube_root);

  // The record for `path` when its stat key still matches, else null.
  const Record* Find(absl::string_view path, int64_t size, int64_t mtime_ns, int64_t ctime_ns,
                     uint64_t inode) const;
  // Find() for a scan: the record, whether or not it matches, counts as seen
  // (one lookup per file instead of two). Safe from several threads at once
  // for different paths, as long as nothing is Put meanwhile.
  const Record* FindForScan(absl::string_view path, int64_t size, int64_t mtime_ns,
                            int64_t ctime_ns, uint64_t inode);
  // The record regardless of stat (for pulls), or null.
  const Record* FindAny(absl::string_view path) const;

  void Put(std::string path, const Record& record);
  // Drops records of paths not in `keep`-style scans: everything not touched
  // since the last BeginScan.
  void BeginScan();
  void DropUnseen();
  void MarkAllSynced();

  size_t size() const { return records_.size(); }
  bool dirty() const { return dirty_; }

  // Writes the cache atomically (temp file + rename) when it changed.
  absl::Status Save();

 private:
  struct Slot {
    Record record;
    bool seen = false;
  };
  // `r` when its stat key is the one given, else null.
  static const Record* Matching(const Record& r, int64_t size, int64_t mtime_ns, int64_t ctime_ns,
                                uint64_t inode);
  std::string file_;
  // The loaded file's bytes hold the keys of its records; keys Put later are
  // kept in put_keys_ (a deque never moves its strings).
  std::unique_ptr<char[]> loaded_;
  std::deque<std::string> put_keys_;
  absl::flat_hash_map<absl::string_view, Slot> records_;
  bool dirty_ = false;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SYNC_SCAN_CACHE_H_
