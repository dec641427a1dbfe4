#include "agent/cas/blob_grants.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/cas/blob_store.h"
#include "common/file_util.h"
#include "common/unique_fd.h"

namespace mlcube {

absl::StatusOr<std::unique_ptr<BlobGrants>> BlobGrants::Open(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return WriteErrorStatus(errno, absl::StrCat("creating ", dir));
  }
  return std::unique_ptr<BlobGrants>(new BlobGrants(dir));
}

absl::flat_hash_map<std::string, int64_t>& BlobGrants::LoadedLocked(const std::string& owner) {
  auto [it, inserted] = by_owner_.try_emplace(owner);
  if (!inserted) return it->second;
  std::ifstream in(absl::StrCat(dir_, "/", owner, ".list"));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    int64_t size = 0;
    // A torn last line (power cut mid-append) is simply not a grant.
    if (fields.size() != 2 || fields[0].size() != 64 || !absl::SimpleAtoi(fields[1], &size)) {
      continue;
    }
    it->second[std::string(fields[0])] = size;
  }
  return it->second;
}

void BlobGrants::Grant(const std::string& owner, const v1Digest& digest) {
  GrantAll(owner, {digest});
}

void BlobGrants::GrantAll(const std::string& owner, const std::vector<v1Digest>& digests) {
  absl::MutexLock lock(&mu_);
  auto& grants = LoadedLocked(owner);
  std::string lines;
  for (const v1Digest& digest : digests) {
    if (grants.emplace(digest.hash(), digest.size_bytes()).second) {
      absl::StrAppend(&lines, digest.hash(), " ", digest.size_bytes(), "\n");
    }
  }
  if (lines.empty()) return;
  UniqueFd fd(open(absl::StrCat(dir_, "/", owner, ".list").c_str(),
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
  // Not persisted (disk full): the grant holds until a restart, after which
  // the owner uploads the blob once more. Nothing is lost or exposed.
  if (fd && write(fd.get(), lines.data(), lines.size()) != static_cast<ssize_t>(lines.size())) {
    return;
  }
}

bool BlobGrants::Granted(const std::string& owner, const v1Digest& digest) {
  absl::MutexLock lock(&mu_);
  auto& grants = LoadedLocked(owner);
  auto it = grants.find(digest.hash());
  return it != grants.end() && it->second == digest.size_bytes();
}

absl::flat_hash_map<std::string, int64_t> BlobGrants::GrantsOf(const std::string& owner) {
  absl::MutexLock lock(&mu_);
  return LoadedLocked(owner);
}

}  // namespace mlcube
