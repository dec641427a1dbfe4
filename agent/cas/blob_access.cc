#include "agent/cas/blob_access.h"

#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

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

absl::StatusOr<std::string> BlobAccess::ReadSmall(const std::string& owner,
                                                  const v1Digest& digest) const {
  absl::StatusOr<UniqueFd> fd = Open(owner, digest);
  if (!fd.ok()) return fd.status();
  std::string data(static_cast<size_t>(digest.size_bytes()), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = pread(fd->get(), data.data() + got, data.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return NotHere(digest);
    got += static_cast<size_t>(n);
  }
  if (!SameDigest(DigestOf(data), digest)) return NotHere(digest);
  return data;
}

}  // namespace mlcube
