#ifndef MLCUBE_REMOTE_AGENT_CAS_BLOB_ACCESS_H_
#define MLCUBE_REMOTE_AGENT_CAS_BLOB_ACCESS_H_

// The content store as one identity sees it. A blob is visible to an
// identity when the identity uploaded it (BlobGrants) and the content is on
// this agent (in the store or in any verified workspace file), or when the
// content sits in one of the identity's own workspace files
// (STATE/cubes/OWNER/...: its committed inputs and its tasks' outputs).
// Everything else is reported exactly as a blob that does not exist, so
// neither FindMissingBlobs nor a read tells one identity what another has.

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "agent/cas/blob_grants.h"
#include "agent/cas/blob_store.h"
#include "agent/cas/chunk_locations.h"
#include "agent/cas/workspace_blob_index.h"
#include "common/digest.h"
#include "common/unique_fd.h"

namespace mlcube {

class BlobAccess {
 public:
  // None owned. `cubes_root` is STATE/cubes. `chunks` may be null (no chunk
  // is then known inside whole files).
  BlobAccess(BlobStore* store, WorkspaceBlobIndex* index, BlobGrants* grants,
             std::string cubes_root, ChunkLocations* chunks = nullptr)
      : store_(store),
        index_(index),
        grants_(grants),
        cubes_root_(std::move(cubes_root)),
        chunks_(chunks) {}

  bool Visible(const std::string& owner, const v1Digest& digest) const;

  // Whether `owner` may see each whole file asked about so far, kept by the
  // caller for one request: the chunks of a big file all sit in the same few
  // whole files, which are then looked up once each, not once per chunk.
  using SeenWholes = absl::flat_hash_map<std::string, bool>;

  // True when `owner` need not send `chunk`: it sits inside a whole file
  // `owner` may see (ChunkLocations), or it is Visible. Such a chunk may not be
  // a blob (Open does not find it): read it with ReadChunk. `seen` may be null.
  bool ChunkVisible(const std::string& owner, const v1Digest& chunk,
                    SeenWholes* seen = nullptr) const;

  // A chunk's bytes from inside a whole file `owner` may see, verified
  // against `chunk`; locations that do not verify are forgotten. NOT_FOUND
  // when no location holds it.
  absl::StatusOr<std::string> ReadChunk(const std::string& owner, const v1Digest& chunk) const;

  // The last whole file ReadChunk or LocateChunk opened, kept between the
  // calls of one splice: consecutive chunks mostly sit in the same file.
  struct OpenWhole {
    std::string hash;
    UniqueFd fd;
    absl::flat_hash_set<std::string> unavailable;  // wholes that did not open
  };
  absl::StatusOr<std::string> ReadChunk(const std::string& owner, const v1Digest& chunk,
                                        OpenWhole* open) const;

  // For copying runs of chunks that sit one after the other in a whole file
  // (a splice): the offset of `chunk` inside the file `open` holds, no byte
  // read; the location at `preferred_offset` first. Nothing when `open`
  // holds no recorded copy of it.
  std::optional<int64_t> OffsetInOpen(const v1Digest& chunk, const OpenWhole& open,
                                      int64_t preferred_offset) const;
  // Opens into `open` a whole file `owner` may see that holds `chunk` and
  // gives the chunk's offset there, no byte read: the caller checks what it
  // reads (the whole file's digest). NOT_FOUND when none opens.
  absl::StatusOr<int64_t> LocateChunk(const std::string& owner, const v1Digest& chunk,
                                      OpenWhole* open) const;

  // Whether `digest` is known as a chunk inside some whole file (in memory
  // only; says nothing about who may see it).
  bool KnownAsChunk(const v1Digest& digest) const {
    return chunks_ != nullptr && !chunks_->Find(digest).empty();
  }

  // Whether where the chunks of `whole` sit is recorded already.
  bool ChunksOfKnown(const v1Digest& whole) const {
    return chunks_ != nullptr && chunks_->HasList(whole);
  }

  // Records where the chunks of `whole` sit (see ChunkLocations).
  void AddChunkList(const v1Digest& whole, const ::mlcube_remote::v1::ChunkList& list) {
    if (chunks_ != nullptr) chunks_->AddList(whole, list);
  }

  // Opens the content for reading; NOT_FOUND when not visible. Readers
  // verify what they read (the client checks the digest).
  absl::StatusOr<UniqueFd> Open(const std::string& owner, const v1Digest& digest) const;

  // Reads a whole small blob (manifests); NOT_FOUND when not visible.
  absl::StatusOr<std::string> ReadSmall(const std::string& owner, const v1Digest& digest) const;

  // After `owner` sent the content and it verified.
  void Grant(const std::string& owner, const v1Digest& digest) { grants_->Grant(owner, digest); }
  void GrantAll(const std::string& owner, const std::vector<v1Digest>& digests) {
    grants_->GrantAll(owner, digests);
  }

 private:
  std::string OwnerRoot(const std::string& owner) const;
  // Whether `open` holds the whole file of `at` after the call: kept when
  // already open, else opened when `owner` may see it (one that does not
  // open is remembered as unavailable and not tried again).
  bool OpenWholeOf(const std::string& owner, const ChunkLocations::Location& at,
                   OpenWhole* open) const;

  BlobStore* store_;
  WorkspaceBlobIndex* index_;
  BlobGrants* grants_;
  std::string cubes_root_;
  ChunkLocations* chunks_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_CAS_BLOB_ACCESS_H_
