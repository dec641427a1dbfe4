#include "agent/cas/blob_access.h"

#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace mlcube {

namespace {

absl::Status NotHere(const v1Digest& digest) {
  return absl::NotFoundError(absl::StrCat("blob ", DigestKey(digest), " missing"));
}

}  // namespace

std::string BlobAccess::OwnerRoot(const std::string& owner) const {
  return absl::StrCat(cubes_root_, "/", owner, "/");
}

bool BlobAccess::Visible(const std::string& owner, const v1Digest& digest) const {
  if (grants_->Granted(owner, digest) && (store_->Has(digest) || index_->Has(digest, ""))) {
    return true;
  }
  return index_->Has(digest, OwnerRoot(owner));
}

absl::StatusOr<UniqueFd> BlobAccess::Open(const std::string& owner, const v1Digest& digest) const {
  if (grants_->Granted(owner, digest)) {
    if (store_->Has(digest)) {
      UniqueFd fd(open(store_->PathOf(digest).c_str(), O_RDONLY | O_CLOEXEC));
      if (fd) return fd;
    }
    absl::StatusOr<UniqueFd> fd = index_->OpenLive(digest, "");
    if (fd.ok()) return fd;
  }
  absl::StatusOr<UniqueFd> own = index_->OpenLive(digest, OwnerRoot(owner));
  if (own.ok()) return own;
  return NotHere(digest);
}

bool BlobAccess::ChunkVisible(const std::string& owner, const v1Digest& chunk,
                              SeenWholes* seen) const {
  // Inside a whole file first: that answer is in memory once the file was
  // looked up, while the chunk's own lookup stats the store and the index.
  if (chunks_ != nullptr) {
    SeenWholes this_call;
    if (seen == nullptr) seen = &this_call;
    for (const ChunkLocations::Location& at : chunks_->Find(chunk)) {
      auto [it, first] = seen->try_emplace(at.whole.hash(), false);
      if (first) it->second = Visible(owner, at.whole);
      if (it->second) return true;
    }
  }
  return Visible(owner, chunk);
}

absl::StatusOr<std::string> BlobAccess::ReadChunk(const std::string& owner,
                                                  const v1Digest& chunk) const {
  OpenWhole open;
  return ReadChunk(owner, chunk, &open);
}

bool BlobAccess::OpenWholeOf(const std::string& owner, const ChunkLocations::Location& at,
                             OpenWhole* open) const {
  if (open->fd && open->hash == at.whole.hash()) return true;
  if (open->unavailable.contains(at.whole.hash())) return false;
  absl::StatusOr<UniqueFd> whole = Open(owner, at.whole);
  if (!whole.ok()) {
    open->unavailable.insert(at.whole.hash());
    return false;
  }
  open->hash = at.whole.hash();
  open->fd = std::move(*whole);
  return true;
}

absl::StatusOr<std::string> BlobAccess::ReadChunk(const std::string& owner, const v1Digest& chunk,
                                                  OpenWhole* open) const {
  if (chunks_ == nullptr) return NotHere(chunk);
  std::string data;
  for (const ChunkLocations::Location& at : chunks_->Find(chunk)) {
    if (!OpenWholeOf(owner, at, open)) continue;
    if (absl::Status read = ReadExactlyAt(open->fd.get(), at.offset, chunk.size_bytes(), &data);
        read.ok() && SameDigest(DigestOf(data), chunk)) {
      return data;
    }
    chunks_->Forget(chunk, at.whole);
  }
  return NotHere(chunk);
}

std::optional<int64_t> BlobAccess::OffsetInOpen(const v1Digest& chunk, const OpenWhole& open,
                                                int64_t preferred_offset) const {
  if (chunks_ == nullptr || !open.fd) return std::nullopt;
  std::optional<int64_t> found;
  for (const ChunkLocations::Location& at : chunks_->Find(chunk)) {
    if (at.whole.hash() != open.hash) continue;
    if (at.offset == preferred_offset) return at.offset;
    if (!found.has_value()) found = at.offset;
  }
  return found;
}

absl::StatusOr<int64_t> BlobAccess::LocateChunk(const std::string& owner, const v1Digest& chunk,
                                                OpenWhole* open) const {
  if (chunks_ == nullptr) return NotHere(chunk);
  for (const ChunkLocations::Location& at : chunks_->Find(chunk)) {
    if (OpenWholeOf(owner, at, open)) return at.offset;
  }
  return NotHere(chunk);
}

absl::StatusOr<std::string> BlobAccess::ReadSmall(const std::string& owner,
                                                  const v1Digest& digest) const {
  absl::StatusOr<UniqueFd> fd = Open(owner, digest);
  if (!fd.ok()) return fd.status();
  std::string data;
  if (!ReadExactlyAt(fd->get(), 0, digest.size_bytes(), &data).ok() ||
      !SameDigest(DigestOf(data), digest)) {
    return NotHere(digest);
  }
  return data;
}

}  // namespace mlcube
