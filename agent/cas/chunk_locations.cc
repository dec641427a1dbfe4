#include "agent/cas/chunk_locations.h"

#include <algorithm>

namespace mlcube {

bool ChunkLocations::KeyOf(const v1Digest& digest, Key* key) {
  return RawFromHex(digest.hash(), key);
}

void ChunkLocations::AddList(const v1Digest& whole, const ::mlcube_remote::v1::ChunkList& list) {
  Key whole_key;
  if (!KeyOf(whole, &whole_key)) return;
  std::vector<std::pair<Key, Entry>> parsed;
  parsed.reserve(static_cast<size_t>(list.chunks_size()));
  int64_t offset = 0;
  for (const v1Digest& chunk : list.chunks()) {
    Key key;
    if (!KeyOf(chunk, &key) || chunk.size_bytes() <= 0 ||
        chunk.size_bytes() > whole.size_bytes() - offset) {
      return;
    }
    parsed.push_back({key, Entry{whole_key, whole.size_bytes(), offset, chunk.size_bytes()}});
    offset += chunk.size_bytes();
  }
  if (offset != whole.size_bytes() || parsed.size() > kMaxChunks) return;
  absl::MutexLock lock(&mu_);
  if (HasListLocked(whole_key)) return;  // known already
  while (chunks_ + parsed.size() > kMaxChunks && !lists_.empty()) DropOldestLocked();
  std::vector<Key> keys;
  keys.reserve(parsed.size());
  for (auto& [key, entry] : parsed) {
    by_chunk_[key].push_back(entry);
    keys.push_back(key);
  }
  chunks_ += keys.size();
  lists_.emplace_back(whole_key, std::move(keys));
}

bool ChunkLocations::HasList(const v1Digest& whole) const {
  Key whole_key;
  if (!KeyOf(whole, &whole_key)) return false;
  absl::MutexLock lock(&mu_);
  return HasListLocked(whole_key);
}

bool ChunkLocations::HasListLocked(const Key& whole_key) const {
  for (const auto& list_entry : lists_) {
    if (list_entry.first == whole_key) return true;
  }
  return false;
}

void ChunkLocations::DropOldestLocked() {
  const Key& whole_key = lists_.front().first;
  const std::vector<Key>& keys = lists_.front().second;
  for (const Key& key : keys) RemoveLocked(key, whole_key);
  chunks_ -= keys.size();
  lists_.pop_front();
}

std::vector<ChunkLocations::Location> ChunkLocations::Find(const v1Digest& chunk) const {
  Key key;
  if (!KeyOf(chunk, &key)) return {};
  std::vector<Location> out;
  absl::MutexLock lock(&mu_);
  auto it = by_chunk_.find(key);
  if (it == by_chunk_.end()) return out;
  // Newest first: an older version of a file is the likelier to be gone.
  for (auto e_it = it->second.rbegin(); e_it != it->second.rend(); ++e_it) {
    const Entry& e = *e_it;
    if (e.chunk_size != chunk.size_bytes()) continue;
    out.push_back({MakeDigest(HexOfRaw(e.whole), e.whole_size), e.offset});
  }
  return out;
}

void ChunkLocations::Forget(const v1Digest& chunk, const v1Digest& whole) {
  Key key, whole_key;
  if (!KeyOf(chunk, &key) || !KeyOf(whole, &whole_key)) return;
  absl::MutexLock lock(&mu_);
  RemoveLocked(key, whole_key);
}

void ChunkLocations::RemoveLocked(const Key& chunk, const Key& whole) {
  auto it = by_chunk_.find(chunk);
  if (it == by_chunk_.end()) return;
  std::vector<Entry>& entries = it->second;
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [&](const Entry& e) { return e.whole == whole; }),
                entries.end());
  if (entries.empty()) by_chunk_.erase(it);
}

size_t ChunkLocations::size() const {
  absl::MutexLock lock(&mu_);
  return by_chunk_.size();
}

}  // namespace mlcube
