#ifndef MLCUBE_REMOTE_AGENT_CAS_CHUNK_SPLICER_H_
#define MLCUBE_REMOTE_AGENT_CAS_CHUNK_SPLICER_H_

// Splits big files into chunks and builds them back (the Remote Execution
// API's SplitBlob and SpliceBlob).
//
// Splice: builds a big file's blob from its chunks (blobs of their own, or
// parts of an earlier whole file: ChunkLocations). A client sends a changed big file as a
// ChunkList blob plus the chunks the agent lacks; at commit, the splicer concatenates the chunks
// the committing identity may see into a temp file in the store, verifies the whole file's digest
// over what it wrote, and moves the result into the BlobStore under that digest (granted to the
// identity). The materializer then places it like any blob, atomically. Nothing is read whole into
// memory but the chunk list, which is bounded.
//
// Split: for a snapshot of a big agent-side file (an output), stores its
// ChunkList and records its content-defined chunks as parts of the file, so
// a client holding an older version fetches only the chunks it lacks.

#include <string>

#include "absl/status/status.h"
#include "agent/cas/blob_access.h"
#include "agent/cas/blob_store.h"
#include "mlcube_remote/v1/manifest.pb.h"

namespace mlcube {

class ChunkSplicer {
 public:
  // A chunk list above this size is refused (about 15 million chunks).
  static constexpr int64_t kMaxChunkListBytes = 64 << 20;

  ChunkSplicer(BlobStore* store, BlobAccess* access) : store_(store), access_(access) {}

  // Splices every file of `manifest` that has a chunk list and whose content
  // `owner` does not see yet. FAILED_PRECONDITION when a chunk or a list is
  // not visible to the owner, INVALID_ARGUMENT when a list is malformed or
  // the chunks do not add up to the file's digest; each names the path.
  absl::Status SpliceMissing(const std::string& owner,
                             const ::mlcube_remote::v1::Manifest& manifest) const;

  absl::Status Splice(const std::string& owner,
                      const ::mlcube_remote::v1::ManifestEntry& entry) const;

  // After a commit (and at start-up, for every committed manifest): where
  // the chunks of the manifest's big files sit inside them, so a later
  // version sent as chunks reuses them (see ChunkLocations).
  void RecordChunkLocations(const std::string& owner,
                            const ::mlcube_remote::v1::Manifest& manifest) const;

  struct Split {
    v1Digest digest;      // of the whole file
    v1Digest chunk_list;  // the ChunkList blob
  };
  // Chunks the file open as `fd` (read with pread, a few chunks at a time):
  // stores the list, granted to `owner`, and records where the chunks sit
  // in the file (ChunkLocations) instead of storing copies of them. The
  // caller indexes the file itself (WorkspaceBlobIndex).
  absl::StatusOr<Split> SplitFile(const std::string& owner, int fd) const;

  // Whether an earlier SplitFile's result still serves `owner`: its list is
  // stored and visible to the owner, and its chunk locations are still
  // recorded (ChunkLocations drops the oldest past its capacity).
  bool StillSplit(const std::string& owner, const Split& split) const;

 private:
  absl::StatusOr<::mlcube_remote::v1::ChunkList> LoadList(
      const std::string& owner, const ::mlcube_remote::v1::ManifestEntry& entry) const;
  absl::Status StoreLocatedChunk(const std::string& owner,
                                 const ::mlcube_remote::v1::ManifestEntry& entry) const;
  class SpliceOutput;
  // Writes the list's chunks into `out` in order; whether what was written
  // has the entry's digest. Without `verify_chunks`, runs of chunks that sit
  // one after the other inside a whole file are copied as one range and the
  // file's digest is the only check, one hash per byte; with it (after that
  // failed: a whole file changed under its index entry), each chunk read from
  // inside a whole file is checked on its own, and one that does not verify
  // is forgotten there and then FAILED_PRECONDITION, asked for again.
  absl::StatusOr<bool> CopyChunks(const std::string& owner,
                                  const ::mlcube_remote::v1::ChunkList& list,
                                  const ::mlcube_remote::v1::ManifestEntry& entry, int out,
                                  bool verify_chunks) const;
  absl::Status CopyChunkRuns(const std::string& owner, const ::mlcube_remote::v1::ChunkList& list,
                             const ::mlcube_remote::v1::ManifestEntry& entry,
                             SpliceOutput* output) const;
  // A chunk stored as a blob of its own; FAILED_PRECONDITION when it is not there.
  absl::Status CopyChunkBlob(const std::string& owner, const v1Digest& chunk,
                             const ::mlcube_remote::v1::ManifestEntry& entry,
                             SpliceOutput* output) const;
  absl::Status CopyCheckedChunks(const std::string& owner,
                                 const ::mlcube_remote::v1::ChunkList& list,
                                 const ::mlcube_remote::v1::ManifestEntry& entry,
                                 SpliceOutput* output) const;

  BlobStore* store_;
  BlobAccess* access_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_CAS_CHUNK_SPLICER_H_
