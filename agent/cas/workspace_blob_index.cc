#include "agent/cas/workspace_blob_index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/cas/blob_store.h"
#include "common/file_util.h"

namespace mlcube {

namespace {

// A location keeps at most this many files per blob: enough to survive a
// few being rewritten by tasks, bounded for memory.
constexpr size_t kMaxLocationsPerBlob = 4;

bool LooksLive(const std::string& path, int64_t size, int64_t mtime_ns) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  return st.st_size == size && TimespecNs(st.st_mtim) == mtime_ns;
}

bool CarriesSeal(const struct stat& st, const WorkspaceBlobIndex::Seal& seal) {
  return st.st_dev == seal.dev && st.st_ino == seal.ino && TimespecNs(st.st_ctim) == seal.ctime_ns;
}

// Reads all of `in` (`size` bytes) into `out`, hashing what it copies.
absl::Status CopyHashing(int in, int out, int64_t size, std::vector<char>& buffer, Sha256& sha) {
  int64_t offset = 0;
  while (offset < size) {
    ssize_t n = pread(in, buffer.data(), buffer.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    sha.Update(buffer.data(), static_cast<size_t>(n));
    absl::Status s = WriteAllAt(out, absl::string_view(buffer.data(), static_cast<size_t>(n)),
                                offset, "a staged file");
    if (!s.ok()) return s;
    offset += n;
  }
  return absl::OkStatus();
}

}  // namespace

int64_t WorkspaceBlobIndex::CoarseClockNs() {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME_COARSE, &now);
  return TimespecNs(now);
}

std::optional<WorkspaceBlobIndex::Seal> WorkspaceBlobIndex::SealOf(int dfd, const std::string& name,
                                                                   int64_t clock_before_ns) {
  struct stat st;
  if (fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
    return std::nullopt;
  }
  if (TimespecNs(st.st_ctim) >= clock_before_ns) return std::nullopt;
  return Seal{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
              TimespecNs(st.st_ctim)};
}

void WorkspaceBlobIndex::AddManifest(const std::string& root,
                                     const ::mlcube_remote::v1::Manifest& manifest) {
  for (const auto& e : manifest.entries()) {
    if (e.type() != ::mlcube_remote::v1::ENTRY_TYPE_FILE) continue;
    Add(e.digest(), absl::StrCat(root, "/", e.path()), e.mtime_ns());
  }
}

void WorkspaceBlobIndex::Add(const v1Digest& digest, std::string path, int64_t mtime_ns) {
  AddLocation(digest, {std::move(path), mtime_ns, std::nullopt});
}

void WorkspaceBlobIndex::AddSealed(const v1Digest& digest, std::string path, int64_t mtime_ns,
                                   const Seal& seal) {
  AddLocation(digest, {std::move(path), mtime_ns, seal});
}

void WorkspaceBlobIndex::AddLocation(const v1Digest& digest, Location location) {
  absl::MutexLock lock(&mu_);
  std::vector<Location>& list = locations_[digest.hash()];
  for (Location& l : list) {
    if (l.path == location.path) {
      l = std::move(location);
      return;
    }
  }
  if (list.size() >= kMaxLocationsPerBlob) list.erase(list.begin());
  list.push_back(std::move(location));
}

std::vector<WorkspaceBlobIndex::Location> WorkspaceBlobIndex::Candidates(
    const v1Digest& digest) const {
  absl::MutexLock lock(&mu_);
  auto it = locations_.find(digest.hash());
  if (it == locations_.end()) return {};
  return it->second;
}

void WorkspaceBlobIndex::Forget(const v1Digest& digest, const std::string& path) {
  absl::MutexLock lock(&mu_);
  auto it = locations_.find(digest.hash());
  if (it == locations_.end()) return;
  auto& list = it->second;
  list.erase(
      std::remove_if(list.begin(), list.end(), [&](const Location& l) { return l.path == path; }),
      list.end());
  if (list.empty()) locations_.erase(it);
}

bool WorkspaceBlobIndex::Has(const v1Digest& digest, absl::string_view under) const {
  for (const Location& l : Candidates(digest)) {
    if (absl::StartsWith(l.path, under) && LooksLive(l.path, digest.size_bytes(), l.mtime_ns))
      return true;
  }
  return false;
}

absl::StatusOr<UniqueFd> WorkspaceBlobIndex::OpenLive(const v1Digest& digest,
                                                      absl::string_view under) const {
  for (const Location& l : Candidates(digest)) {
    if (!absl::StartsWith(l.path, under) || !LooksLive(l.path, digest.size_bytes(), l.mtime_ns))
      continue;
    UniqueFd fd(open(l.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (fd) return fd;
  }
  return absl::NotFoundError(absl::StrCat("blob ", DigestKey(digest), " missing"));
}

absl::Status WorkspaceBlobIndex::CopyVerified(const v1Digest& digest, int out_fd,
                                              absl::string_view sealed_under) {
  std::vector<char> buffer;
  for (const Location& l : Candidates(digest)) {
    UniqueFd in(open(l.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st;
    if (!in || fstat(in.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size != digest.size_bytes() || TimespecNs(st.st_mtim) != l.mtime_ns) {
      continue;
    }
    if (ftruncate(out_fd, 0) != 0) return WriteErrorStatus(errno, "truncating a staged file");
    // The seal is checked on the open file: what is read is that inode.
    if (l.seal.has_value() && !sealed_under.empty() && absl::StartsWith(l.path, sealed_under) &&
        CarriesSeal(st, *l.seal)) {
      return CopyFileRange(in.get(), 0, out_fd, 0, digest.size_bytes(), "a staged file");
    }
    buffer.resize(1 << 20);
    Sha256 sha;
    if (absl::Status s = CopyHashing(in.get(), out_fd, digest.size_bytes(), buffer, sha); !s.ok()) {
      return s;
    }
    if (SameDigest(sha.Finish(), digest)) return absl::OkStatus();
    Forget(digest, l.path);  // rewritten in place by someone: never trust it again
  }
  return absl::NotFoundError(absl::StrCat("blob ", DigestKey(digest), " is in no store"));
}

size_t WorkspaceBlobIndex::size() const {
  absl::MutexLock lock(&mu_);
  return locations_.size();
}

}  // namespace mlcube
