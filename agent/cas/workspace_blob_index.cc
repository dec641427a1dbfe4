#include "agent/cas/workspace_blob_index.h"

#include <fcntl.h>
#include <sys/stat.h>
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
  return st.st_size == size &&
         static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec == mtime_ns;
}

}  // namespace

void WorkspaceBlobIndex::AddManifest(const std::string& root,
                                     const ::mlcube_remote::v1::Manifest& manifest) {
  for (const auto& e : manifest.entries()) {
    if (e.type() != ::mlcube_remote::v1::ENTRY_TYPE_FILE) continue;
    Add(e.digest(), absl::StrCat(root, "/", e.path()), e.mtime_ns());
  }
}

void WorkspaceBlobIndex::Add(const v1Digest& digest, std::string path, int64_t mtime_ns) {
  absl::MutexLock lock(&mu_);
  std::vector<Location>& list = locations_[digest.hash()];
  for (Location& l : list) {
    if (l.path == path) {
      l.mtime_ns = mtime_ns;
      return;
    }
  }
  if (list.size() >= kMaxLocationsPerBlob) list.erase(list.begin());
  list.push_back({std::move(path), mtime_ns});
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

absl::Status WorkspaceBlobIndex::CopyVerified(const v1Digest& digest, int out_fd) {
  std::vector<char> buffer(1 << 20);
  for (const Location& l : Candidates(digest)) {
    if (!LooksLive(l.path, digest.size_bytes(), l.mtime_ns)) continue;
    UniqueFd in(open(l.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in) continue;
    if (ftruncate(out_fd, 0) != 0) return WriteErrorStatus(errno, "truncating a staged file");
    Sha256 sha;
    off_t offset = 0;
    absl::Status status;
    for (;;) {
      ssize_t n = pread(in.get(), buffer.data(), buffer.size(), offset);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      sha.Update(buffer.data(), static_cast<size_t>(n));
      for (ssize_t done = 0; done < n;) {
        ssize_t w =
            pwrite(out_fd, buffer.data() + done, static_cast<size_t>(n - done), offset + done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return WriteErrorStatus(errno, "writing a staged file");
        done += w;
      }
      offset += n;
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
