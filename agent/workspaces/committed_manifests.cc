#include "agent/workspaces/committed_manifests.h"

#include "absl/strings/str_cat.h"
#include "agent/cas/chunk_splicer.h"
#include "common/manifest_validator.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

absl::StatusOr<v1::Manifest> LoadManifest(const BlobStore& store, const v1Digest& digest) {
  // Never read a blob of any size into memory (by the size its digest names).
  if (digest.size_bytes() > ManifestValidator::kMaxManifestBytes) {
    return absl::FailedPreconditionError(
        absl::StrCat("manifest blob ", DigestKey(digest), " is larger than ",
                     ManifestValidator::kMaxManifestBytes, " bytes"));
  }
  absl::StatusOr<std::string> bytes = store.Read(digest);
  if (!bytes.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("manifest blob ", DigestKey(digest), " is not in the content store"));
  }
  v1::Manifest manifest;
  if (!manifest.ParseFromString(*bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest blob ", DigestKey(digest), " does not parse as a Manifest"));
  }
  return manifest;
}

std::unique_ptr<v1::Manifest> CommittedManifests::Of(const std::string& owner,
                                                     const std::string& cube_id) const {
  std::optional<v1::CubeSummary> summary = records_->Read(owner, cube_id);
  if (!summary.has_value()) return nullptr;
  absl::StatusOr<v1::Manifest> manifest = LoadManifest(*store_, summary->committed_manifest());
  if (!manifest.ok()) return nullptr;
  return std::make_unique<v1::Manifest>(std::move(*manifest));
}

void CommittedManifests::ForEach(const Visitor& visit) const {
  records_->ForEach([&](const std::string& owner, const v1::CubeSummary& summary) {
    absl::StatusOr<v1::Manifest> manifest = LoadManifest(*store_, summary.committed_manifest());
    if (manifest.ok()) visit(owner, summary.cube_id(), *manifest);
  });
}

absl::flat_hash_set<std::string> CommittedManifests::ReferencedBlobs() const {
  absl::flat_hash_set<std::string> referenced;
  records_->ForEach([&](const std::string&, const v1::CubeSummary& summary) {
    referenced.insert(summary.committed_manifest().hash());
    absl::StatusOr<v1::Manifest> m = LoadManifest(*store_, summary.committed_manifest());
    if (!m.ok()) return;
    for (const v1::ManifestEntry& e : m->entries()) {
      if (e.type() != v1::ENTRY_TYPE_FILE) continue;
      referenced.insert(e.digest().hash());
      if (e.has_chunk_list()) referenced.insert(e.chunk_list().hash());
    }
  });
  return referenced;
}

absl::flat_hash_set<std::string> CommittedManifests::ChunksOf(const std::string& owner) const {
  absl::flat_hash_set<std::string> chunks;
  records_->ForEach([&](const std::string& who, const v1::CubeSummary& summary) {
    if (who != owner) return;
    absl::StatusOr<v1::Manifest> m = LoadManifest(*store_, summary.committed_manifest());
    if (!m.ok()) return;
    for (const v1::ManifestEntry& e : m->entries()) {
      if (!e.has_chunk_list() || e.chunk_list().size_bytes() > ChunkSplicer::kMaxChunkListBytes) {
        continue;
      }
      absl::StatusOr<std::string> bytes = store_->Read(e.chunk_list());
      v1::ChunkList list;
      if (!bytes.ok() || !list.ParseFromString(*bytes)) continue;
      chunks.insert(e.chunk_list().hash());
      for (const v1Digest& chunk : list.chunks()) chunks.insert(chunk.hash());
    }
  });
  return chunks;
}

}  // namespace mlcube
