#include "agent/cas/upload_manager.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace mlcube {

absl::StatusOr<std::unique_ptr<UploadManager>> UploadManager::Create(const std::string& dir,
                                                                     BlobStore* store) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return WriteErrorStatus(errno, absl::StrCat("creating ", dir));
  }
  return std::unique_ptr<UploadManager>(new UploadManager(dir, store));
}

std::string UploadManager::PartPath(const std::string& owner, const v1Digest& digest) const {
  return absl::StrCat(OwnerDir(owner), "/", digest.hash(), "-", digest.size_bytes(), ".part");
}

UploadManager::Status UploadManager::GetStatus(const std::string& owner,
                                               const v1Digest& digest) const {
  Status status;
  struct stat st;
  if (stat(PartPath(owner, digest).c_str(), &st) == 0) {
    status.committed_offset = std::min<int64_t>(st.st_size, digest.size_bytes());
  }
  return status;
}

void UploadManager::Release(const std::string& key) {
  absl::MutexLock lock(&mu_);
  active_.erase(key);
}

int64_t UploadManager::PartialBytes(const std::string& owner) const {
  int64_t total = 0;
  DIR* dir = opendir(OwnerDir(owner).c_str());
  if (dir == nullptr) return 0;
  while (dirent* e = readdir(dir)) {
    struct stat st;
    if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
      total += st.st_size;
    }
  }
  closedir(dir);
  return total;
}

absl::StatusOr<std::unique_ptr<UploadSession>> UploadManager::Begin(const std::string& owner,
                                                                    const v1Digest& digest,
                                                                    int64_t offset,
                                                                    bool already_held) {
  if (absl::Status s = ValidateDigest(digest); !s.ok()) return s;
  const std::string key = DigestKey(digest);
  const std::string active_key = absl::StrCat(owner, "/", key);
  {
    absl::MutexLock lock(&mu_);
    if (!active_.insert(active_key).second) {
      return absl::AbortedError(absl::StrCat("blob ", key, " is being uploaded by another stream"));
    }
  }
  std::unique_ptr<UploadSession> session(
      new UploadSession(this, active_key, digest, PartPath(owner, digest)));
  if (already_held) {
    session->complete_ = true;
    session->offset_ = digest.size_bytes();
    return session;
  }
  if (mkdir(OwnerDir(owner).c_str(), 0700) != 0 && errno != EEXIST) {
    return WriteErrorStatus(errno, absl::StrCat("creating ", OwnerDir(owner)));
  }
  session->fd_.Reset(open(session->part_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!session->fd_) return WriteErrorStatus(errno, absl::StrCat("opening ", session->part_path_));
  struct stat st;
  if (fstat(session->fd_.get(), &st) != 0) {
    return absl::InternalError(absl::StrCat("fstat ", session->part_path_));
  }
  int64_t committed = st.st_size;
  if (committed > digest.size_bytes()) {
    // Cannot be ours; start over.
    if (ftruncate(session->fd_.get(), 0) != 0) {
      return WriteErrorStatus(errno, absl::StrCat("truncating ", session->part_path_));
    }
    committed = 0;
  }
  if (offset != committed) {
    return absl::FailedPreconditionError(
        absl::StrCat("upload of ", key, " must resume at offset ", committed, ", not ", offset));
  }
  // Hash the committed prefix so Finish needs no second pass.
  std::vector<char> buffer(1 << 20);
  off_t pos = 0;
  while (pos < committed) {
    ssize_t n = pread(session->fd_.get(), buffer.data(),
                      std::min<size_t>(buffer.size(), static_cast<size_t>(committed - pos)), pos);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::InternalError(absl::StrCat("reading ", session->part_path_));
    session->sha_.Update(buffer.data(), static_cast<size_t>(n));
    pos += n;
  }
  session->offset_ = committed;
  return session;
}

UploadSession::UploadSession(UploadManager* manager, std::string active_key, v1Digest digest,
                             std::string part_path)
    : manager_(manager),
      active_key_(std::move(active_key)),
      digest_(std::move(digest)),
      part_path_(std::move(part_path)) {}

UploadSession::~UploadSession() { manager_->Release(active_key_); }

absl::Status UploadSession::Write(int64_t offset, absl::string_view data) {
  if (complete_) return absl::OkStatus();
  if (offset != offset_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "chunk of ", DigestKey(digest_), " at offset ", offset, ", expected ", offset_));
  }
  if (offset_ + static_cast<int64_t>(data.size()) > digest_.size_bytes()) {
    return absl::OutOfRangeError(
        absl::StrCat("chunk of ", DigestKey(digest_), " goes past the blob size"));
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = pwrite(fd_.get(), data.data() + done, data.size() - done,
                       static_cast<off_t>(offset_ + static_cast<int64_t>(done)));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      // Keep the committed prefix consistent with what was hashed.
      if (ftruncate(fd_.get(), offset_) != 0) {
        // Nothing more to do: Begin() re-hashes whatever length is there.
      }
      return WriteErrorStatus(err, absl::StrCat("writing upload of ", DigestKey(digest_)));
    }
    done += static_cast<size_t>(n);
  }
  sha_.Update(data);
  offset_ += static_cast<int64_t>(data.size());
  return absl::OkStatus();
}

absl::Status UploadSession::Finish() {
  if (complete_) return absl::OkStatus();
  if (offset_ != digest_.size_bytes()) {
    return absl::FailedPreconditionError(absl::StrCat("upload of ", DigestKey(digest_),
                                                      " finished at ", offset_, " of ",
                                                      digest_.size_bytes(), " bytes"));
  }
  v1Digest actual = sha_.Finish();
  fchmod(fd_.get(), 0400);
  // Start writing the data out now, while more arrives: the commit's syncfs
  // then finds little left to flush.
  sync_file_range(fd_.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
  fd_.Reset();
  if (!SameDigest(actual, digest_)) {
    unlink(part_path_.c_str());
    return absl::InvalidArgumentError(absl::StrCat("uploaded data does not match digest ",
                                                   DigestKey(digest_), " (got ", DigestKey(actual),
                                                   "); upload discarded"));
  }
  if (absl::Status s = manager_->store_->Adopt(digest_, part_path_); !s.ok()) return s;
  complete_ = true;
  return absl::OkStatus();
}

}  // namespace mlcube
