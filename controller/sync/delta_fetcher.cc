#include "controller/sync/delta_fetcher.h"

#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/content_chunker.h"
#include "common/digest.h"
#include "common/file_util.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

namespace {

constexpr int64_t kBatchBytes = 1 << 20;

absl::Status BadList(const v1::ManifestEntry& entry, absl::string_view why) {
  return absl::DataLossError(
      absl::StrCat("chunk list of '", entry.path(), "' from the agent: ", why));
}

}  // namespace

absl::StatusOr<v1::ChunkList> DeltaFetcher::LoadList(const v1::ManifestEntry& entry) {
  if (entry.chunk_list().size_bytes() > kMaxChunkListBytes) return BadList(entry, "too large");
  absl::StatusOr<std::string> bytes = downloader_->ReadSmall(entry.chunk_list());
  if (!bytes.ok()) return bytes.status();
  v1::ChunkList list;
  if (!list.ParseFromString(*bytes)) return BadList(entry, "does not parse");
  int64_t total = 0;
  for (const v1Digest& chunk : list.chunks()) {
    if (!ValidateDigest(chunk).ok() || chunk.size_bytes() <= 0 ||
        chunk.size_bytes() > kBatchBytes ||
        chunk.size_bytes() > entry.digest().size_bytes() - total) {
      return BadList(entry, "chunks do not add up to the file");
    }
    total += chunk.size_bytes();
  }
  if (total != entry.digest().size_bytes()) return BadList(entry, "chunks do not add up");
  return list;
}

absl::StatusOr<int64_t> DeltaFetcher::Fetch(const v1::ManifestEntry& entry, int basis, int out) {
  absl::StatusOr<v1::ChunkList> list = LoadList(entry);
  if (!list.ok()) return list.status();
  absl::StatusOr<ContentChunker::FileChunks> have = ContentChunker::ChunkFd(basis);
  if (!have.ok()) return have.status();
  absl::flat_hash_map<std::string, const ContentChunker::Chunk*> local;
  for (const ContentChunker::Chunk& c : have->chunks) local.emplace(HexOfRaw(c.sha256), &c);

  // Copy what the local version has; note where each missing chunk goes.
  absl::flat_hash_map<std::string, std::vector<int64_t>> wanted;  // hash -> offsets
  std::vector<v1Digest> order;
  int64_t offset = 0;
  for (const v1Digest& chunk : list->chunks()) {
    auto it = local.find(chunk.hash());
    if (it != local.end() && it->second->size == chunk.size_bytes()) {
      absl::Status s =
          CopyFileRange(basis, it->second->offset, out, offset, chunk.size_bytes(), entry.path());
      if (!s.ok()) return s;
    } else {
      std::vector<int64_t>& at = wanted[chunk.hash()];
      if (at.empty()) order.push_back(chunk);
      at.push_back(offset);
    }
    offset += chunk.size_bytes();
  }
  int64_t fetched = 0;
  auto sink = [&](const v1Digest& d, const std::string& data) -> absl::Status {
    for (int64_t at : wanted[d.hash()]) {
      if (absl::Status s = WriteAllAt(out, data, at, entry.path()); !s.ok()) return s;
    }
    fetched += d.size_bytes();
    return absl::OkStatus();
  };
  for (size_t i = 0; i < order.size();) {
    std::vector<v1Digest> batch;
    int64_t bytes = 0;
    for (; i < order.size() && (batch.empty() || bytes + order[i].size_bytes() <= kBatchBytes);
         ++i) {
      bytes += order[i].size_bytes();
      batch.push_back(order[i]);
    }
    if (absl::Status s = downloader_->ReadBatch(batch, sink); !s.ok()) return s;
  }
  absl::StatusOr<v1Digest> result = DigestOfFd(out);
  if (!result.ok()) return result.status();
  if (!SameDigest(*result, entry.digest())) {
    return absl::DataLossError(absl::StrCat("'", entry.path(), "' rebuilt from chunks is corrupt"));
  }
  return fetched;
}

}  // namespace mlcube
