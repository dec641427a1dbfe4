#include "agent/cas/chunk_splicer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/background_sha256.h"
#include "common/content_chunker.h"
#include "common/file_util.h"
#include "common/unique_fd.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

namespace {

constexpr int64_t kCopyPiece = 1 << 20;

absl::Status Refused(const v1::ManifestEntry& entry, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("chunk list of '", entry.path(), "': ", why));
}

absl::Status Unavailable(const v1::ManifestEntry& entry, const v1Digest& digest) {
  return absl::FailedPreconditionError(absl::StrCat("blob ", DigestKey(digest), " for '",
                                                    entry.path(), "' is not in the content store"));
}

}  // namespace

// The file a splice writes: pieces go out in order and are hashed on another
// core meanwhile, so the digest covers exactly the bytes written.
class ChunkSplicer::SpliceOutput {
 public:
  SpliceOutput(int fd, std::string what) : fd_(fd), what_(std::move(what)) {}

  absl::Status Write(std::string piece) {
    if (absl::Status s = WriteAllAt(fd_, piece, written_, what_); !s.ok()) return s;
    written_ += static_cast<int64_t>(piece.size());
    sha_.Add(std::move(piece));
    return absl::OkStatus();
  }
  // Copies `size` bytes of `in` from `offset`, a piece at a time. DATA_LOSS
  // when `in` ends before.
  absl::Status CopyRange(int in, int64_t offset, int64_t size) {
    for (int64_t done = 0; done < size;) {
      const int64_t want = std::min<int64_t>(kCopyPiece, size - done);
      BackgroundSha256::Buffer piece = BackgroundSha256::NewBuffer(static_cast<size_t>(want));
      if (absl::Status s = ReadExactlyAt(in, offset + done, want, piece.get()); !s.ok()) return s;
      if (absl::Status s = WriteAllAt(fd_, absl::string_view(piece.get(), want), written_, what_);
          !s.ok()) {
        return s;
      }
      written_ += want;
      sha_.Add(std::move(piece), static_cast<size_t>(want));
      done += want;
    }
    return absl::OkStatus();
  }
  v1Digest Finish() { return sha_.Finish(); }

 private:
  const int fd_;
  const std::string what_;
  int64_t written_ = 0;
  BackgroundSha256 sha_;
};

absl::Status ChunkSplicer::SpliceMissing(const std::string& owner,
                                         const v1::Manifest& manifest) const {
  for (const v1::ManifestEntry& entry : manifest.entries()) {
    // Only big files and content known as a chunk need a look (the check in
    // memory first: a visibility check stats the store).
    if (entry.type() != v1::ENTRY_TYPE_FILE ||
        (!entry.has_chunk_list() && !access_->KnownAsChunk(entry.digest())) ||
        access_->Visible(owner, entry.digest())) {
      continue;
    }
    absl::Status s =
        entry.has_chunk_list() ? Splice(owner, entry) : StoreLocatedChunk(owner, entry);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ChunkSplicer::StoreLocatedChunk(const std::string& owner,
                                             const v1::ManifestEntry& entry) const {
  // A small file whose content is a chunk of a big one: FindMissingBlobs
  // said the agent has it, and it does, inside the big file.
  absl::StatusOr<std::string> data = access_->ReadChunk(owner, entry.digest());
  if (!data.ok()) return absl::OkStatus();  // the materializer names what is missing
  if (absl::Status s = store_->Put(entry.digest(), *data); !s.ok()) return s;
  access_->Grant(owner, entry.digest());
  return absl::OkStatus();
}

void ChunkSplicer::RecordChunkLocations(const std::string& owner,
                                        const v1::Manifest& manifest) const {
  for (const v1::ManifestEntry& entry : manifest.entries()) {
    // Lists of files this cube had before are known: not read again.
    if (entry.type() != v1::ENTRY_TYPE_FILE || !entry.has_chunk_list() ||
        access_->ChunksOfKnown(entry.digest())) {
      continue;
    }
    absl::StatusOr<v1::ChunkList> list = LoadList(owner, entry);
    if (list.ok()) access_->AddChunkList(entry.digest(), *list);
  }
}

absl::StatusOr<v1::ChunkList> ChunkSplicer::LoadList(const std::string& owner,
                                                     const v1::ManifestEntry& entry) const {
  if (entry.chunk_list().size_bytes() > kMaxChunkListBytes) {
    return Refused(entry, absl::StrCat("larger than ", kMaxChunkListBytes, " bytes"));
  }
  absl::StatusOr<std::string> bytes = access_->ReadSmall(owner, entry.chunk_list());
  if (!bytes.ok()) return Unavailable(entry, entry.chunk_list());
  v1::ChunkList list;
  if (!list.ParseFromString(*bytes)) return Refused(entry, "does not parse as a ChunkList");
  // The chunks must add up to the file exactly (checked without overflow).
  int64_t total = 0;
  for (const v1Digest& chunk : list.chunks()) {
    if (absl::Status s = ValidateDigest(chunk); !s.ok()) return Refused(entry, s.message());
    if (chunk.size_bytes() <= 0 || chunk.size_bytes() > entry.digest().size_bytes() - total) {
      return Refused(entry, "chunk sizes do not add up to the file's size");
    }
    total += chunk.size_bytes();
  }
  if (total != entry.digest().size_bytes()) {
    return Refused(entry, "chunk sizes do not add up to the file's size");
  }
  return list;
}

absl::StatusOr<bool> ChunkSplicer::CopyChunks(const std::string& owner, const v1::ChunkList& list,
                                              const v1::ManifestEntry& entry, int out,
                                              bool verify_chunks) const {
  SpliceOutput output(out, absl::StrCat("spliced ", entry.path()));
  absl::Status s = verify_chunks ? CopyCheckedChunks(owner, list, entry, &output)
                                 : CopyChunkRuns(owner, list, entry, &output);
  if (absl::IsDataLoss(s)) return false;  // a whole file got shorter: again, chunk by chunk
  if (!s.ok()) return s;
  return SameDigest(output.Finish(), entry.digest());
}

absl::Status ChunkSplicer::CopyChunkRuns(const std::string& owner, const v1::ChunkList& list,
                                         const v1::ManifestEntry& entry,
                                         SpliceOutput* output) const {
  // Chunks that follow each other inside the same whole file (mostly all
  // but the changed ones) are copied as one range, in big pieces.
  BlobAccess::OpenWhole whole;
  int64_t run_start = 0;
  int64_t run_size = 0;
  for (const v1Digest& chunk : list.chunks()) {
    std::optional<int64_t> at = access_->OffsetInOpen(chunk, whole, run_start + run_size);
    if (run_size > 0 && at == run_start + run_size) {
      run_size += chunk.size_bytes();
      continue;
    }
    if (absl::Status s = output->CopyRange(whole.fd.get(), run_start, run_size); !s.ok()) return s;
    run_size = 0;
    if (!at.has_value()) {
      absl::StatusOr<int64_t> located = access_->LocateChunk(owner, chunk, &whole);
      if (located.ok()) at = *located;
    }
    if (at.has_value()) {
      run_start = *at;
      run_size = chunk.size_bytes();
      continue;
    }
    if (absl::Status s = CopyChunkBlob(owner, chunk, entry, output); !s.ok()) return s;
  }
  return output->CopyRange(whole.fd.get(), run_start, run_size);
}

absl::Status ChunkSplicer::CopyChunkBlob(const std::string& owner, const v1Digest& chunk,
                                         const v1::ManifestEntry& entry,
                                         SpliceOutput* output) const {
  absl::StatusOr<UniqueFd> in = access_->Open(owner, chunk);
  if (!in.ok()) return Unavailable(entry, chunk);
  absl::Status s = output->CopyRange(in->get(), 0, chunk.size_bytes());
  return absl::IsDataLoss(s) ? Unavailable(entry, chunk) : s;
}

absl::Status ChunkSplicer::CopyCheckedChunks(const std::string& owner, const v1::ChunkList& list,
                                             const v1::ManifestEntry& entry,
                                             SpliceOutput* output) const {
  BlobAccess::OpenWhole whole;
  for (const v1Digest& chunk : list.chunks()) {
    // Inside a whole file sent earlier (mostly the one the last chunk came
    // from, still open), verified on its own, else a blob of its own.
    if (access_->KnownAsChunk(chunk)) {
      absl::StatusOr<std::string> data = access_->ReadChunk(owner, chunk, &whole);
      if (data.ok()) {
        if (absl::Status s = output->Write(std::move(*data)); !s.ok()) return s;
        continue;
      }
    }
    if (absl::Status s = CopyChunkBlob(owner, chunk, entry, output); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ChunkSplicer::Splice(const std::string& owner, const v1::ManifestEntry& entry) const {
  absl::StatusOr<v1::ChunkList> list = LoadList(owner, entry);
  if (!list.ok()) return list.status();
  const std::string temp = store_->NewTempPath();
  UniqueFd out(open(temp.c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC));
  if (!out) return WriteErrorStatus(errno, absl::StrCat("splicing ", entry.path()));
  absl::StatusOr<bool> copied = CopyChunks(owner, *list, entry, out.get(), false);
  if (copied.ok() && !*copied) {
    // A whole file a chunk was read from changed under its index entry (a
    // task rewrote it in place): again, chunk by chunk, so the source that
    // does not verify is forgotten and its chunk asked for again.
    copied = ftruncate(out.get(), 0) == 0
                 ? CopyChunks(owner, *list, entry, out.get(), true)
                 : WriteErrorStatus(errno, absl::StrCat("splicing ", entry.path()));
  }
  absl::Status s = !copied.ok() ? copied.status()
                   : *copied    ? absl::OkStatus()
                                : Refused(entry, "its chunks do not make up the file's digest");
  if (s.ok()) {
    fchmod(out.get(), 0400);
    out.Reset();
    s = store_->Adopt(entry.digest(), temp);
  }
  if (!s.ok()) {
    unlink(temp.c_str());
    return s;
  }
  access_->Grant(owner, entry.digest());
  return absl::OkStatus();
}

absl::StatusOr<ChunkSplicer::Split> ChunkSplicer::SplitFile(const std::string& owner,
                                                            int fd) const {
  absl::StatusOr<ContentChunker::FileChunks> chunks =
      ContentChunker::ChunkFd(fd, ContentChunker::WholeDigest::kOwnThread);
  if (!chunks.ok()) return chunks.status();
  v1::ChunkList list;
  for (const ContentChunker::Chunk& chunk : chunks->chunks) {
    *list.add_chunks() = MakeDigest(HexOfRaw(chunk.sha256), chunk.size);
  }
  const std::string list_bytes = list.SerializeAsString();
  Split out;
  out.digest = chunks->digest;
  out.chunk_list = DigestOf(list_bytes);
  if (absl::Status s = store_->Put(out.chunk_list, list_bytes); !s.ok()) return s;
  access_->Grant(owner, out.chunk_list);
  // The chunks stay inside the file: read from there (and verified) when a
  // client asks for them.
  access_->AddChunkList(out.digest, list);
  return out;
}

bool ChunkSplicer::StillSplit(const std::string& owner, const Split& split) const {
  return access_->Visible(owner, split.chunk_list) && access_->ChunksOfKnown(split.digest);
}

}  // namespace mlcube
