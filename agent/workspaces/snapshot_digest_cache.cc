#include "agent/workspaces/snapshot_digest_cache.h"

#include "common/file_util.h"

namespace mlcube {

bool SnapshotDigestCache::FileKey::operator==(const FileKey& other) const {
  return dev == other.dev && ino == other.ino && size == other.size && mtime_ns == other.mtime_ns &&
         ctime_ns == other.ctime_ns;
}

SnapshotDigestCache::FileKey SnapshotDigestCache::KeyOf(const struct stat& st) {
  FileKey key;
  key.dev = static_cast<uint64_t>(st.st_dev);
  key.ino = static_cast<uint64_t>(st.st_ino);
  key.size = static_cast<int64_t>(st.st_size);
  key.mtime_ns = TimespecNs(st.st_mtim);
  key.ctime_ns = TimespecNs(st.st_ctim);
  return key;
}

std::optional<SnapshotDigestCache::Digests> SnapshotDigestCache::Find(const std::string& path,
                                                                      const FileKey& key) const {
  absl::MutexLock lock(&mu_);
  auto it = records_.find(path);
  if (it == records_.end() || !(it->second.key == key)) return std::nullopt;
  return it->second.digests;
}

void SnapshotDigestCache::Put(const std::string& path, const FileKey& before, const FileKey& after,
                              int64_t clock_before_ns, Digests digests) {
  absl::MutexLock lock(&mu_);
  if (!(before == after) || before.ctime_ns >= clock_before_ns) {
    records_.erase(path);
    return;
  }
  if (records_.size() >= kMaxFiles && !records_.contains(path)) records_.clear();
  records_[path] = Record{before, std::move(digests)};
}

size_t SnapshotDigestCache::size() const {
  absl::MutexLock lock(&mu_);
  return records_.size();
}

}  // namespace mlcube
