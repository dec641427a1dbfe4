#include "agent/cas/blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/unique_fd.h"

namespace mlcube {

namespace {

constexpr size_t kEarlyWriteOutMin = 1 << 20;

absl::Status MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) return absl::OkStatus();
  return WriteErrorStatus(errno, absl::StrCat("creating ", path));
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& what) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return WriteErrorStatus(errno, absl::StrCat("writing ", what));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BlobStore> BlobStore::Open(const std::string& root) {
  if (absl::Status s = MakeDir(root); !s.ok()) return s;
  if (absl::Status s = MakeDir(root + "/tmp"); !s.ok()) return s;
  // All 256 fan-out directories up front: no mkdir on the write path.
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 256; ++i) {
    const char sub[3] = {kHex[i >> 4], kHex[i & 15], '\0'};
    if (absl::Status s = MakeDir(absl::StrCat(root, "/", sub)); !s.ok()) return s;
  }
  // Temp files left by a crash are garbage: nothing refers to them.
  if (DIR* dir = opendir((root + "/tmp").c_str())) {
    while (dirent* e = readdir(dir)) {
      if (e->d_name[0] == '.') continue;
      unlinkat(dirfd(dir), e->d_name, 0);
    }
    closedir(dir);
  }
  return BlobStore(root);
}

std::string BlobStore::PathOf(const v1Digest& digest) const {
  return absl::StrCat(root_, "/", digest.hash().substr(0, 2), "/", digest.hash());
}

bool BlobStore::Has(const v1Digest& digest) const {
  struct stat st;
  if (stat(PathOf(digest).c_str(), &st) != 0) return false;
  return S_ISREG(st.st_mode) && st.st_size == digest.size_bytes();
}

std::string BlobStore::NewTempPath() const {
  // mkstemp gives a unique name without shared counters.
  std::string path = root_ + "/tmp/blob.XXXXXX";
  int fd = mkstemp(path.data());
  if (fd >= 0) close(fd);
  return path;
}

absl::Status BlobStore::Put(const v1Digest& digest, absl::string_view data) {
  if (absl::Status s = ValidateDigest(digest); !s.ok()) return s;
  v1Digest actual = DigestOf(data);
  if (!SameDigest(actual, digest)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "blob data does not match digest ", DigestKey(digest), " (got ", DigestKey(actual), ")"));
  }
  if (Has(digest)) return absl::OkStatus();
  // An unnamed file linked in under its final name once complete: one
  // directory operation per blob instead of create + rename.
  const std::string dir = absl::StrCat(root_, "/", digest.hash().substr(0, 2));
  UniqueFd unnamed(open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0400));
  if (unnamed) {
    absl::Status s = WriteAll(unnamed.get(), data, "a new blob");
    if (!s.ok()) return s;
    // Start the write-out of a big blob now, so the commit's syncfs has less
    // to wait for; small ones are left to that one syncfs (an I/O request
    // per small file costs more than it saves).
    if (data.size() >= kEarlyWriteOutMin)
      sync_file_range(unnamed.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
    const std::string self = absl::StrCat("/proc/self/fd/", unnamed.get());
    if (linkat(AT_FDCWD, self.c_str(), AT_FDCWD, PathOf(digest).c_str(), AT_SYMLINK_FOLLOW) == 0 ||
        errno == EEXIST) {
      return absl::OkStatus();
    }
    if (errno == ENOSPC || errno == EDQUOT) {
      return WriteErrorStatus(errno, absl::StrCat("storing blob ", DigestKey(digest)));
    }
    // No /proc: fall back to a named temp file.
  }
  std::string temp = root_ + "/tmp/blob.XXXXXX";
  UniqueFd fd(mkstemp(temp.data()));
  if (!fd) return WriteErrorStatus(errno, "creating a temp blob");
  // Read-only: nothing should ever write to a blob in place.
  fchmod(fd.get(), 0400);
  absl::Status s = WriteAll(fd.get(), data, temp);
  if (s.ok()) s = Adopt(digest, temp);
  if (!s.ok()) unlink(temp.c_str());
  return s;
}

absl::Status BlobStore::Adopt(const v1Digest& digest, const std::string& verified_path) {
  if (rename(verified_path.c_str(), PathOf(digest).c_str()) != 0) {
    return WriteErrorStatus(errno, absl::StrCat("storing blob ", DigestKey(digest)));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1Digest> BlobStore::ImportFile(int fd) {
  std::string temp = root_ + "/tmp/import.XXXXXX";
  UniqueFd out(mkstemp(temp.data()));
  if (!out) return WriteErrorStatus(errno, "creating a temp blob");
  fchmod(out.get(), 0400);
  Sha256 sha;
  std::vector<char> buffer(1 << 20);
  off_t offset = 0;
  for (;;) {
    ssize_t n = pread(fd, buffer.data(), buffer.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      unlink(temp.c_str());
      return absl::InternalError(absl::StrCat("reading: ", strerror(errno)));
    }
    if (n == 0) break;
    sha.Update(buffer.data(), static_cast<size_t>(n));
    if (absl::Status s = WriteAll(out.get(), absl::string_view(buffer.data(), n), temp); !s.ok()) {
      unlink(temp.c_str());
      return s;
    }
    offset += n;
  }
  v1Digest digest = sha.Finish();
  if (Has(digest)) {
    unlink(temp.c_str());
    Touch(digest);
    return digest;
  }
  if (absl::Status s = Adopt(digest, temp); !s.ok()) {
    unlink(temp.c_str());
    return s;
  }
  return digest;
}

absl::StatusOr<std::string> BlobStore::Read(const v1Digest& digest) const {
  if (!Has(digest))
    return absl::NotFoundError(absl::StrCat("blob ", DigestKey(digest), " missing"));
  UniqueFd fd(open(PathOf(digest).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd)
    return absl::NotFoundError(absl::StrCat("blob ", DigestKey(digest), ": ", strerror(errno)));
  std::string data(static_cast<size_t>(digest.size_bytes()), '\0');
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = pread(fd.get(), data.data() + done, data.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::DataLossError(absl::StrCat("blob ", DigestKey(digest), " short read"));
    done += static_cast<size_t>(n);
  }
  return data;
}

void BlobStore::Touch(const v1Digest& digest) const {
  utimensat(AT_FDCWD, PathOf(digest).c_str(), nullptr, 0);
}

absl::StatusOr<BlobStore::GcResult> BlobStore::CollectGarbage(
    int64_t cap_bytes, const absl::flat_hash_set<std::string>& referenced,
    int64_t min_age_seconds) const {
  struct Candidate {
    int64_t mtime_ns;
    int64_t size;
    std::string path;
  };
  std::vector<Candidate> candidates;
  GcResult result;
  const int64_t now = static_cast<int64_t>(time(nullptr));
  DIR* top = opendir(root_.c_str());
  if (top == nullptr) return absl::InternalError(absl::StrCat("opendir ", root_));
  while (dirent* e = readdir(top)) {
    if (strlen(e->d_name) != 2 || e->d_name[0] == '.') continue;
    const std::string sub = absl::StrCat(root_, "/", e->d_name);
    DIR* dir = opendir(sub.c_str());
    if (dir == nullptr) continue;
    while (dirent* f = readdir(dir)) {
      if (f->d_name[0] == '.') continue;
      struct stat st;
      if (fstatat(dirfd(dir), f->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
        continue;
      }
      result.bytes_before += st.st_size;
      if (referenced.contains(f->d_name)) continue;
      if (now - st.st_mtim.tv_sec < min_age_seconds) continue;
      candidates.push_back({TimespecNs(st.st_mtim), st.st_size, absl::StrCat(sub, "/", f->d_name)});
    }
    closedir(dir);
  }
  closedir(top);
  result.bytes_after = result.bytes_before;
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) { return a.mtime_ns < b.mtime_ns; });
  for (const Candidate& c : candidates) {
    if (result.bytes_after <= cap_bytes) break;
    if (unlink(c.path.c_str()) == 0) {
      result.bytes_after -= c.size;
      ++result.blobs_removed;
    }
  }
  return result;
}

}  // namespace mlcube
