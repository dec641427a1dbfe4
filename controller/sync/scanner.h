#ifndef MLCUBE_REMOTE_CONTROLLER_SYNC_SCANNER_H_
#define MLCUBE_REMOTE_CONTROLLER_SYNC_SCANNER_H_

// Turns a cube directory into a canonical Manifest. Walks the tree with
// openat/fstatat, skips what the IgnoreRules exclude, and hashes only files
// the ScanCache does not know under their current stat, on several threads.
// Container images are never synced: besides the *.sif/*.simg patterns, a
// file with the SIF magic or a `docker save` archive is skipped by content.
// A symlink that stays inside the tree is kept as a symlink (its target made
// relative and normalised); one that points outside fails the scan, naming
// it. Sockets, FIFOs and devices are skipped with a warning. A file of at
// least ContentChunker::kChunkedFileMin bytes is split into content-defined
// chunks in the same read that hashes it; its entry names the ChunkList
// blob (ChunkListBytes) and the cache keeps the chunks.

#include <google/protobuf/arena.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/sync/ignore_rules.h"
#include "controller/sync/scan_cache.h"
#include "mlcube_remote/v1/manifest.pb.h"

namespace mlcube {

struct ScanOptions {
  std::string root;  // absolute cube directory
  IgnoreRules rules;
  // Absolute directories never synced (e.g. the Singularity image dir).
  std::vector<std::string> exclude_dirs;
  int hash_threads = 2;
};

struct ScanResult {
  // The manifest lives on an arena: 20,000 entries allocate and free in bulk.
  ScanResult()
      : arena(std::make_unique<google::protobuf::Arena>()),
        manifest_ptr(
            google::protobuf::Arena::CreateMessage<::mlcube_remote::v1::Manifest>(arena.get())) {}
  ::mlcube_remote::v1::Manifest& manifest() { return *manifest_ptr; }
  const ::mlcube_remote::v1::Manifest& manifest() const { return *manifest_ptr; }

  std::unique_ptr<google::protobuf::Arena> arena;
  ::mlcube_remote::v1::Manifest* manifest_ptr;
  std::vector<std::string> warnings;
  // Paths skipped because they are container images.
  std::vector<std::string> skipped_images;
  int64_t files = 0;
  int64_t bytes = 0;
  int64_t files_hashed = 0;
  int64_t bytes_hashed = 0;
};

class Scanner {
 public:
  explicit Scanner(ScanCache* cache) : cache_(cache) {}

  absl::StatusOr<ScanResult> Scan(const ScanOptions& options);

  // True when the first bytes of a file mark it as a container image: the
  // SIF magic at offset 32, or a tar whose members include a top-level
  // manifest.json, repositories or oci-layout (`docker save`).
  static bool LooksLikeImage(int fd);

  // The serialized ChunkList of a record with chunks (its digest is the
  // entry's chunk_list).
  static std::string ChunkListBytes(const ScanCache::Record& record);

 private:
  ScanCache* cache_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SYNC_SCANNER_H_
