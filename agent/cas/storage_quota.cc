#include "agent/cas/storage_quota.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "agent/log/log.h"
#include "common/directory_tree.h"

namespace mlcube {

namespace {

constexpr std::chrono::seconds kReuseFor(5);

std::string Human(int64_t bytes) {
  if (bytes >= (int64_t{1} << 30)) return absl::StrCat(bytes >> 30, " GiB");
  if (bytes >= (int64_t{1} << 20)) return absl::StrCat(bytes >> 20, " MiB");
  return absl::StrCat(bytes, " bytes");
}

}  // namespace

StorageQuota::Measure StorageQuota::MeasureOf(const std::string& owner) {
  Measure m;
  m.at = std::chrono::steady_clock::now();
  const std::string root = absl::StrCat(cubes_root_, "/", owner);
  if (DIR* dir = opendir(root.c_str())) {
    while (dirent* e = readdir(dir)) {
      if (e->d_name[0] == '.') continue;
      absl::StatusOr<int64_t> measured = TreeBytes(absl::StrCat(root, "/", e->d_name));
      // A tree too deep or too big to measure counts as the whole limit:
      // hiding bytes below the walk's limits must not bypass the quota.
      if (!measured.ok()) {
        m.unmeasured = std::string(measured.status().message());
        LogWarning(
            absl::StrCat("quota of ", owner, ": ", m.unmeasured, "; counted as the whole limit"));
      }
      const int64_t bytes = measured.ok() ? *measured : std::max<int64_t>(limit_, 0);
      m.by_cube[e->d_name] = bytes;
      m.total += bytes;
    }
    closedir(dir);
  }
  m.total += uploads_->PartialBytes(owner);
  m.jobs = job_bytes_ ? job_bytes_(owner) : 0;
  m.total += m.jobs;
  const absl::flat_hash_set<std::string> covered =
      covered_ ? covered_(owner) : absl::flat_hash_set<std::string>();
  for (const auto& [hash, size] : grants_->GrantsOf(owner)) {
    if (covered.contains(hash)) continue;
    v1Digest digest;
    digest.set_hash(hash);
    digest.set_size_bytes(size);
    if (store_->Has(digest)) m.total += size;
  }
  return m;
}

StorageQuota::Measure StorageQuota::Cached(const std::string& owner) {
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(owner);
    if (it != cache_.end() && std::chrono::steady_clock::now() - it->second.at < kReuseFor) {
      return it->second;
    }
  }
  Measure m = MeasureOf(owner);
  absl::MutexLock lock(&mu_);
  cache_[owner] = m;
  return m;
}

absl::Status StorageQuota::OverLimit(const std::string& owner, int64_t would_be,
                                     const std::string& unmeasured) const {
  return absl::ResourceExhaustedError(absl::StrCat(
      owner, " would store ", Human(would_be), " on this agent; its limit is ", Human(limit_),
      " (limits.stored_bytes in the agent config, set by the agent's admin)",
      unmeasured.empty() ? "" : absl::StrCat("; ", unmeasured, ", counted as the whole limit")));
}

absl::Status StorageQuota::CheckRoom(const std::string& owner, int64_t more) {
  if (limit_ <= 0) return absl::OkStatus();
  const Measure m = Cached(owner);
  const int64_t would_be = m.total + more;
  if (would_be > limit_) return OverLimit(owner, would_be, m.unmeasured);
  return absl::OkStatus();
}

absl::Status StorageQuota::CheckCommit(const std::string& owner, const std::string& cube_id,
                                       int64_t cube_bytes) {
  if (limit_ <= 0) return absl::OkStatus();
  const Measure m = MeasureOf(owner);
  int64_t others = m.jobs;
  for (const auto& [cube, bytes] : m.by_cube) {
    if (cube != cube_id) others += bytes;
  }
  const int64_t would_be = others + cube_bytes;
  if (would_be > limit_) return OverLimit(owner, would_be, m.unmeasured);
  return absl::OkStatus();
}

int64_t StorageQuota::BytesOf(const std::string& owner) { return MeasureOf(owner).total; }

void StorageQuota::Invalidate(const std::string& owner) {
  absl::MutexLock lock(&mu_);
  cache_.erase(owner);
}

}  // namespace mlcube
