#include "agent/workspaces/snapshot_walker.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>
#include <system_error>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/access/tree_acl.h"
#include "common/content_chunker.h"
#include "common/file_util.h"
#include "common/manifest_validator.h"
#include "common/safe_path.h"
#include "common/tree_walker.h"
#include "common/unique_fd.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

namespace {

absl::Status Unreadable(const std::string& rel) {
  const int error = errno;
  if (error == EACCES || error == EPERM) {
    return absl::PermissionDeniedError(absl::StrCat(
        "workspace path '", PrintableExcerpt(rel.empty() ? "." : rel),
        "' is not readable by the agent (a task changed its permissions): ", strerror(error)));
  }
  return absl::InternalError(absl::StrCat("open '", PrintableExcerpt(rel), "': ", strerror(error)));
}

int64_t Depth(const std::string& rel) {
  return rel.empty() ? 0 : 1 + std::count(rel.begin(), rel.end(), '/');
}

}  // namespace

absl::Status SnapshotWalker::AddPath(int parent_fd, const std::string& name,
                                     const std::string& rel) {
  absl::Status walked = WalkPath(parent_fd, name, rel);
  if (!walked.ok()) {
    pending_.clear();
    return walked;
  }
  return HashPending();
}

absl::Status SnapshotWalker::WalkPath(int parent_fd, const std::string& name,
                                      const std::string& rel) {
  struct stat st;
  if (fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return absl::NotFoundError(
        absl::StrCat("workspace path '", PrintableExcerpt(rel), "': ", strerror(errno)));
  }
  if (absl::Status s = AddEntry(parent_fd, name, rel, st); !s.ok()) return s;
  if (!S_ISDIR(st.st_mode)) return absl::OkStatus();
  UniqueFd fd(openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Unreadable(rel);
  TreeLimits limits;
  // A deeper path could not be a manifest path (ValidateRelativePath).
  limits.max_depth = kMaxPathBytes / 2 - Depth(rel);
  limits.max_entries = ManifestValidator::kMaxEntries;
  TreeWalker walker(limits);
  return walker.Walk(
      fd.get(), absl::StrCat("workspace path '", PrintableExcerpt(rel.empty() ? "." : rel), "'"),
      [&](const TreeWalker::Entry& e) -> absl::StatusOr<TreeWalker::Next> {
        if (absl::StartsWith(e.name, ".mlcube-sync-")) return TreeWalker::Next::kSkip;
        absl::Status added =
            AddEntry(e.dir_fd, e.name, rel.empty() ? e.rel : absl::StrCat(rel, "/", e.rel), e.st);
        if (!added.ok()) return added;
        return TreeWalker::Next::kDescend;
      });
}

absl::Status SnapshotWalker::AddEntry(int parent_fd, const std::string& name,
                                      const std::string& rel, const struct stat& st) {
  v1::ManifestEntry entry;
  entry.set_path(rel);
  if (S_ISREG(st.st_mode)) {
    if (absl::Status s = AddFile(parent_fd, name, rel, &entry); !s.ok()) return s;
  } else if (S_ISLNK(st.st_mode)) {
    std::string target(4096, '\0');
    ssize_t n = readlinkat(parent_fd, name.c_str(), target.data(), target.size());
    if (n < 0) return absl::OkStatus();
    target.resize(static_cast<size_t>(n));
    entry.set_type(v1::ENTRY_TYPE_SYMLINK);
    entry.set_symlink_target(target);
    // Links leaving the snapshot's tree are not part of it.
    if (!ManifestValidator::ValidateEntry(entry).ok()) return absl::OkStatus();
  } else if (S_ISDIR(st.st_mode)) {
    if (rel.empty()) return absl::OkStatus();
    entry.set_type(v1::ENTRY_TYPE_DIRECTORY);
    entry.set_mode(ManifestValidator::SafeMode(TreeAcl::ReportedMode(st.st_mode)));
  } else {
    return absl::OkStatus();  // sockets, FIFOs, devices are not outputs
  }
  // Bounded like a manifest the agent accepts (the response names one).
  bytes_ += static_cast<int64_t>(entry.ByteSizeLong()) + 8;
  if (bytes_ > ManifestValidator::kMaxManifestBytes) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the snapshot would exceed ", ManifestValidator::kMaxManifestBytes,
        " bytes of manifest (at '", PrintableExcerpt(rel), "'); snapshot fewer paths"));
  }
  (*out_)[rel] = std::move(entry);
  if (pending_.size() >= kMaxOpenFiles) return HashPending();
  return absl::OkStatus();
}

absl::Status SnapshotWalker::AddFile(int parent_fd, const std::string& name, const std::string& rel,
                                     v1::ManifestEntry* entry) {
  // Read before the file's stat: a change in this clock tick or later keeps
  // the file out of the cache.
  const int64_t clock_before_ns = WorkspaceBlobIndex::CoarseClockNs();
  UniqueFd fd(openat(parent_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Unreadable(rel);
  // Hashed in place, not copied: reads are served from the file while it
  // keeps this size and mtime (and the client verifies the digest).
  struct stat before;
  if (fstat(fd.get(), &before) != 0) return absl::InternalError("fstat");
  entry->set_type(v1::ENTRY_TYPE_FILE);
  entry->set_mode(ManifestValidator::SafeMode(TreeAcl::ReportedMode(before.st_mode)));
  entry->set_mtime_ns(TimespecNs(before.st_mtim));
  std::string path = absl::StrCat(root_, "/", rel);
  std::optional<SnapshotDigestCache::Digests> known;
  if (cache_ != nullptr) known = cache_->Find(path, SnapshotDigestCache::KeyOf(before));
  if (known.has_value() && Usable(*known, before.st_size)) {
    SetDigests(*known, entry);
    index_->Add(known->whole, path, entry->mtime_ns());
    return absl::OkStatus();
  }
  // Until it is hashed, digests no shorter than the real ones count against
  // the manifest's bound.
  constexpr int64_t kLongest = std::numeric_limits<int64_t>::max();
  SnapshotDigestCache::Digests placeholder;
  placeholder.whole = MakeDigest(std::string(64, '0'), kLongest);
  if (list_chunks_ && before.st_size >= ContentChunker::kChunkedFileMin) {
    placeholder.chunk_list = MakeDigest(std::string(64, '0'), kLongest);
  }
  SetDigests(placeholder, entry);
  pending_.push_back(PendingFile{std::move(fd), before, std::move(path), rel, clock_before_ns});
  return absl::OkStatus();
}

absl::Status SnapshotWalker::HashPending() {
  std::vector<PendingFile> files = std::move(pending_);
  pending_.clear();
  if (files.empty()) return absl::OkStatus();
  // Biggest first, so that the two threads finish together.
  std::sort(files.begin(), files.end(), [](const PendingFile& a, const PendingFile& b) {
    return a.before.st_size > b.before.st_size;
  });
  std::vector<absl::StatusOr<SnapshotDigestCache::Digests>> results(
      files.size(), absl::InternalError("not hashed"));
  std::atomic<size_t> next{0};
  auto hash_some = [&] {
    for (size_t i = next++; i < files.size(); i = next++) {
      results[i] = HashFile(files[i].fd.get(), files[i].before.st_size);
    }
  };
  std::thread helper;
  if (files.size() > 1) {
    try {
      helper = std::thread(hash_some);
    } catch (const std::system_error&) {
      // Out of threads (a busy agent, a low process limit): this one hashes all.
    }
  }
  hash_some();
  if (helper.joinable()) helper.join();
  for (size_t i = 0; i < files.size(); ++i) {
    if (!results[i].ok()) return results[i].status();
    ++files_hashed_;
    struct stat after;
    if (cache_ != nullptr && fstat(files[i].fd.get(), &after) == 0) {
      cache_->Put(files[i].path, SnapshotDigestCache::KeyOf(files[i].before),
                  SnapshotDigestCache::KeyOf(after), files[i].clock_before_ns, *results[i]);
    }
    Complete(files[i], *results[i]);
  }
  return absl::OkStatus();
}

void SnapshotWalker::Complete(const PendingFile& file,
                              const SnapshotDigestCache::Digests& digests) {
  v1::ManifestEntry& entry = (*out_)[file.rel];
  const int64_t estimated = static_cast<int64_t>(entry.ByteSizeLong());
  entry.clear_chunk_list();
  SetDigests(digests, &entry);
  bytes_ += static_cast<int64_t>(entry.ByteSizeLong()) - estimated;
  index_->Add(digests.whole, file.path, entry.mtime_ns());
}

void SnapshotWalker::SetDigests(const SnapshotDigestCache::Digests& digests,
                                v1::ManifestEntry* entry) const {
  *entry->mutable_digest() = digests.whole;
  if (list_chunks_ && digests.chunk_list.has_value()) {
    *entry->mutable_chunk_list() = *digests.chunk_list;
  }
}

bool SnapshotWalker::Usable(const SnapshotDigestCache::Digests& known, int64_t size) const {
  // Elsewhere the whole digest is all it needs.
  if (!list_chunks_ || size < ContentChunker::kChunkedFileMin) return true;
  return known.chunk_list.has_value() &&
         splitter_->StillSplit(owner_, ChunkSplicer::Split{known.whole, *known.chunk_list});
}

absl::StatusOr<SnapshotDigestCache::Digests> SnapshotWalker::HashFile(int fd, int64_t size) const {
  SnapshotDigestCache::Digests out;
  // Without a cache to keep it, a list nobody asked for is not worth making.
  const bool worth_splitting = splitter_ != nullptr && size >= ContentChunker::kChunkedFileMin &&
                               (list_chunks_ || cache_ != nullptr);
  if (!worth_splitting) {
    absl::StatusOr<v1Digest> digest = DigestOfFd(fd);
    if (!digest.ok()) return digest.status();
    out.whole = *digest;
    return out;
  }
  absl::StatusOr<ChunkSplicer::Split> split = splitter_->SplitFile(owner_, fd);
  if (!split.ok()) return split.status();
  out.whole = split->digest;
  out.chunk_list = split->chunk_list;
  return out;
}

}  // namespace mlcube
