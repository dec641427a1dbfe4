#include "controller/sync/scanner.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <memory>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/content_chunker.h"
#include "common/digest.h"
#include "common/file_util.h"
#include "common/safe_path.h"
#include "common/unique_fd.h"

namespace mlcube {

namespace {

using ::mlcube_remote::v1::ENTRY_TYPE_DIRECTORY;
using ::mlcube_remote::v1::ENTRY_TYPE_FILE;
using ::mlcube_remote::v1::ENTRY_TYPE_SYMLINK;
using ::mlcube_remote::v1::ManifestEntry;

void SetChunkList(const ScanCache::Record& record, ManifestEntry* entry) {
  if (record.chunks.empty()) return;
  *entry->mutable_chunk_list() = DigestOf(Scanner::ChunkListBytes(record));
}

struct PendingHash {
  std::string path;  // relative
  int64_t size;
};

// A normalised relative target from the directory `link_dir` to `target`
// (both relative to the root, normalised; "." is the root).
std::string RelativeTarget(absl::string_view link_dir, absl::string_view target) {
  std::vector<absl::string_view> from;
  std::vector<absl::string_view> to;
  if (!link_dir.empty() && link_dir != ".") from = absl::StrSplit(link_dir, '/');
  if (!target.empty() && target != ".") to = absl::StrSplit(target, '/');
  size_t common = 0;
  while (common < from.size() && common < to.size() && from[common] == to[common]) ++common;
  std::vector<std::string> parts;
  for (size_t i = common; i < from.size(); ++i) parts.emplace_back("..");
  for (size_t i = common; i < to.size(); ++i) parts.emplace_back(to[i].data(), to[i].size());
  return absl::StrJoin(parts, "/");
}

struct Hashed {
  bool ok = false;
  bool image = false;
  std::string error;
  ScanCache::Record record;
  uint32_t mode = 0;
};

// A big file: hashed and split into chunks in one read.
Hashed ChunkOne(int fd, const std::string& rel, ContentChunker::WholeDigest whole, Hashed out) {
  absl::StatusOr<ContentChunker::FileChunks> chunks = ContentChunker::ChunkFd(fd, whole);
  if (!chunks.ok()) {
    out.error = absl::StrCat("read '", rel, "': ", chunks.status().message());
    return out;
  }
  out.record.size = chunks->digest.size_bytes();
  RawFromHex(chunks->digest.hash(), &out.record.sha256);
  out.record.chunks.reserve(chunks->chunks.size());
  for (const ContentChunker::Chunk& c : chunks->chunks) {
    out.record.chunks.push_back({c.sha256, static_cast<uint32_t>(c.size)});
  }
  out.ok = true;
  return out;
}

Hashed HashOne(const std::string& root, const std::string& rel, ContentChunker::WholeDigest whole,
               std::vector<char>* buffer) {
  Hashed out;
  const std::string path = absl::StrCat(root, "/", rel);
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st;
  if (!fd || fstat(fd.get(), &st) != 0) {
    out.error = absl::StrCat("open '", rel, "': ", strerror(errno));
    return out;
  }
  out.record.size = st.st_size;
  out.record.mtime_ns = TimespecNs(st.st_mtim);
  out.record.ctime_ns = TimespecNs(st.st_ctim);
  out.record.inode = st.st_ino;
  out.mode = st.st_mode & 07777;
  if (Scanner::LooksLikeImage(fd.get())) {
    out.ok = true;
    out.image = out.record.image = true;
    return out;
  }
  posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  if (st.st_size >= ContentChunker::kChunkedFileMin) return ChunkOne(fd.get(), rel, whole, out);
  Sha256 sha;
  int64_t total = 0;
  for (;;) {
    ssize_t n = read(fd.get(), buffer->data(), buffer->size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      out.error = absl::StrCat("read '", rel, "': ", strerror(errno));
      return out;
    }
    if (n == 0) break;
    sha.Update(buffer->data(), static_cast<size_t>(n));
    total += n;
  }
  // The size actually hashed wins: a file growing while scanned is hashed
  // as read, and the next scan sees a new stat and hashes it again.
  out.record.size = total;
  out.record.sha256 = sha.FinishRaw();
  out.ok = true;
  return out;
}

// Directories still to list, shared by the walking threads. `pending_`
// counts directories queued or being listed; the walk is over at zero.
class WalkQueue {
 public:
  // Queues paths, not open fds: a wide tree must not exhaust descriptors.
  void Push(std::string rel) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(rel));
    ++pending_;
  }
  bool Pop(std::string* rel) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](WalkQueue* q) { return !q->queue_.empty() || q->pending_ == 0 || !q->status_.ok(); },
        this));
    if (!status_.ok() || queue_.empty()) return false;
    *rel = std::move(queue_.back());
    queue_.pop_back();
    return true;
  }
  void Done(absl::Status status) {
    absl::MutexLock lock(&mu_);
    if (!status.ok() && status_.ok()) status_ = std::move(status);
    --pending_;
  }
  absl::Status status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> queue_;
  int pending_ = 0;
  absl::Status status_;
};

class Walk {
 public:
  Walk(const ScanOptions& options, ScanCache* cache, ScanResult* result,
       ::mlcube_remote::v1::Manifest* manifest, WalkQueue* queue)
      : options_(options), cache_(cache), result_(result), manifest_(manifest), queue_(queue) {
    for (const std::string& dir : options.exclude_dirs) {
      const std::string norm = NormalizePath(dir);
      if (IsWithin(norm, options.root) && norm != NormalizePath(options.root)) {
        excluded_.insert(norm.substr(NormalizePath(options.root).size() + 1));
      }
    }
  }

  absl::Status Run(int dir_fd, const std::string& rel_dir) {
    DIR* dir = fdopendir(dir_fd);
    if (dir == nullptr) {
      close(dir_fd);
      return absl::InternalError(
          absl::StrCat("reading directory '", rel_dir, "': ", strerror(errno)));
    }
    absl::Status status;
    while (dirent* e = readdir(dir)) {
      const char* name = e->d_name;
      if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
      std::string rel = rel_dir.empty() ? std::string(name) : absl::StrCat(rel_dir, "/", name);
      struct stat st;
      if (fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // deleted while scanning
        status = absl::InternalError(absl::StrCat("stat '", rel, "': ", strerror(errno)));
        break;
      }
      if (S_ISDIR(st.st_mode)) {
        if (excluded_.contains(rel) || options_.rules.IsIgnored(rel, true)) continue;
        ManifestEntry* entry = manifest_->add_entries();
        entry->set_path(rel);
        entry->set_type(ENTRY_TYPE_DIRECTORY);
        entry->set_mode(st.st_mode & 07777);
        queue_->Push(std::move(rel));
      } else if (S_ISREG(st.st_mode)) {
        if (options_.rules.IsIgnored(rel, false)) continue;
        const ScanCache::Record* hit = cache_->FindForScan(rel, st.st_size, TimespecNs(st.st_mtim),
                                                           TimespecNs(st.st_ctim), st.st_ino);
        // A big file cached without its chunks (a pull wrote it) is read
        // again to list them.
        if (hit != nullptr && st.st_size >= ContentChunker::kChunkedFileMin &&
            hit->chunks.empty() && !hit->image) {
          hit = nullptr;
        }
        if (hit != nullptr) {
          if (hit->image) {
            result_->skipped_images.push_back(rel);
            continue;
          }
          ManifestEntry* entry = manifest_->add_entries();
          entry->set_type(ENTRY_TYPE_FILE);
          entry->set_mode(st.st_mode & 07777);
          entry->set_mtime_ns(TimespecNs(st.st_mtim));
          *entry->mutable_digest() = MakeDigest(HexOfRaw(hit->sha256), st.st_size);
          SetChunkList(*hit, entry);
          entry->set_path(std::move(rel));
        } else {
          Defer(std::move(rel), st.st_size);
        }
      } else if (S_ISLNK(st.st_mode)) {
        if (options_.rules.IsIgnored(rel, false)) continue;
        status = AddSymlink(dirfd(dir), name, rel_dir, rel, st.st_size);
        if (!status.ok()) break;
      } else {
        const char* kind = S_ISSOCK(st.st_mode)   ? "socket"
                           : S_ISFIFO(st.st_mode) ? "FIFO"
                                                  : "device";
        result_->warnings.push_back(absl::StrCat("skipping ", kind, " '", rel, "'"));
      }
    }
    closedir(dir);
    return status;
  }

  std::vector<PendingHash>& pending() { return pending_; }
  std::vector<PendingHash>& hashed_paths() { return hashed_paths_; }
  std::vector<Hashed>& hashed() { return hashed_; }
  ::mlcube_remote::v1::Manifest* manifest() { return manifest_; }

 private:
  absl::Status AddSymlink(int dir_fd, const char* name, const std::string& rel_dir,
                          const std::string& rel, int64_t size_hint) {
    std::string target(static_cast<size_t>(std::max<int64_t>(size_hint, 255)) + 1, '\0');
    ssize_t n = readlinkat(dir_fd, name, target.data(), target.size());
    if (n < 0) return absl::InternalError(absl::StrCat("readlink '", rel, "': ", strerror(errno)));
    target.resize(static_cast<size_t>(n));
    const std::string root = NormalizePath(options_.root);
    std::string resolved;  // relative to the root
    if (!target.empty() && target.front() == '/') {
      const std::string norm = NormalizePath(target);
      if (IsWithin(norm, root)) resolved = norm == root ? "." : norm.substr(root.size() + 1);
    } else if (!target.empty()) {
      const std::string joined = NormalizePath(rel_dir.empty() ? target : rel_dir + "/" + target);
      if (joined != ".." && joined.rfind("../", 0) != 0) resolved = joined;
    }
    if (resolved.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("symlink '", rel,
                                                     "' points outside the cube (", target,
                                                     "); replace it with the file or "
                                                     "add it to .mlcubeignore"));
    }
    std::string relative = RelativeTarget(rel_dir, resolved);
    if (relative.empty()) {
      result_->warnings.push_back(
          absl::StrCat("skipping symlink '", rel, "' to its own directory"));
      return absl::OkStatus();
    }
    ManifestEntry* entry = manifest_->add_entries();
    entry->set_path(rel);
    entry->set_type(ENTRY_TYPE_SYMLINK);
    entry->set_symlink_target(relative);
    return absl::OkStatus();
  }

  // A file the cache knew that changed (appended to, edited) is hashed at
  // once, while the other walkers list on. New files wait for the hashing
  // after the walk, which takes the biggest first so that the threads of a
  // first push finish together.
  void Defer(std::string rel, int64_t size) {
    if (cache_->FindAny(rel) == nullptr) {
      pending_.push_back({std::move(rel), size});
      return;
    }
    if (buffer_.empty()) buffer_.resize(1 << 20);
    // A changed big file is mostly alone: its whole digest gets a thread.
    hashed_.push_back(HashOne(options_.root, rel,
                              size >= ContentChunker::kChunkedFileMin
                                  ? ContentChunker::WholeDigest::kOwnThread
                                  : ContentChunker::WholeDigest::kSameThread,
                              &buffer_));
    hashed_paths_.push_back({std::move(rel), size});
  }

  const ScanOptions& options_;
  ScanCache* cache_;
  ScanResult* result_;
  ::mlcube_remote::v1::Manifest* manifest_;  // on the final result's arena
  WalkQueue* queue_;
  absl::flat_hash_set<std::string> excluded_;
  std::vector<PendingHash> pending_;
  std::vector<PendingHash> hashed_paths_;  // hashed during the walk, with...
  std::vector<Hashed> hashed_;             // ...their results, in the same order
  std::vector<char> buffer_;
};

}  // namespace

std::string Scanner::ChunkListBytes(const ScanCache::Record& record) {
  ::mlcube_remote::v1::ChunkList list;
  for (const ScanCache::ChunkRef& chunk : record.chunks) {
    *list.add_chunks() = MakeDigest(HexOfRaw(chunk.sha256), chunk.size);
  }
  return list.SerializeAsString();
}

bool Scanner::LooksLikeImage(int fd) {
  char header[512];
  ssize_t n = pread(fd, header, sizeof(header), 0);
  if (n >= 41 && memcmp(header + 32, "SIF_MAGIC", 9) == 0) return true;
  if (n < 512 || memcmp(header + 257, "ustar", 5) != 0) return false;
  // Walk the tar headers (skipping data) looking for docker save's files.
  off_t offset = 0;
  for (int i = 0; i < 100000; ++i) {
    if (pread(fd, header, sizeof(header), offset) != 512) return false;
    if (header[0] == '\0') return false;  // end of archive
    std::string name(header, strnlen(header, 100));
    if (name.rfind("./", 0) == 0) name = name.substr(2);
    if (name == "manifest.json" || name == "repositories" || name == "oci-layout") return true;
    int64_t size = 0;
    for (int j = 124; j < 136 && header[j] >= '0' && header[j] <= '7'; ++j) {
      size = size * 8 + (header[j] - '0');
    }
    offset += 512 + ((size + 511) / 512) * 512;
  }
  return false;
}

namespace {

// Lists the tree on several threads (on a warm cache a scan is all
// fstatat calls): cached files go into the manifest, changed ones are hashed
// on the way (`hashed_paths`, `hashed`), new ones go into `pending` for
// hashing after the walk.
absl::Status WalkTree(const ScanOptions& options, ScanCache* cache, UniqueFd root,
                      ScanResult& result, std::vector<PendingHash>& pending,
                      std::vector<PendingHash>& hashed_paths, std::vector<Hashed>& hashed) {
  // Each thread fills its own partial result; the cache is only read (and
  // distinct records marked seen) meanwhile.
  const int walkers = std::max(1, options.hash_threads);
  std::vector<ScanResult> partial(static_cast<size_t>(walkers));
  std::vector<std::unique_ptr<Walk>> walks;
  WalkQueue queue;
  queue.Push("");
  for (int t = 0; t < walkers; ++t) {
    walks.push_back(std::make_unique<Walk>(
        options, cache, &partial[t],
        google::protobuf::Arena::CreateMessage<::mlcube_remote::v1::Manifest>(result.arena.get()),
        &queue));
  }
  auto walk_worker = [&queue, &root](Walk* walk) {
    std::string rel;
    while (queue.Pop(&rel)) {
      // Every component was seen as a real directory by lstat; O_NOFOLLOW
      // guards the last one against a swap since.
      int fd = openat(root.get(), rel.empty() ? "." : rel.c_str(),
                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) {
        queue.Done(absl::InternalError(absl::StrCat("open '", rel, "': ", strerror(errno))));
        continue;
      }
      queue.Done(walk->Run(fd, rel));
    }
  };
  {
    std::vector<std::thread> walk_threads;
    for (int t = 1; t < walkers; ++t) walk_threads.emplace_back(walk_worker, walks[t].get());
    walk_worker(walks[0].get());
    for (std::thread& t : walk_threads) t.join();
  }
  if (absl::Status s = queue.status(); !s.ok()) return s;
  for (int t = 0; t < walkers; ++t) {
    ScanResult& part = partial[t];
    // Same arena: entries move without a copy.
    auto* entries = walks[t]->manifest()->mutable_entries();
    while (!entries->empty()) {
      result.manifest().mutable_entries()->UnsafeArenaAddAllocated(
          entries->UnsafeArenaReleaseLast());
    }
    result.warnings.insert(result.warnings.end(), part.warnings.begin(), part.warnings.end());
    result.skipped_images.insert(result.skipped_images.end(), part.skipped_images.begin(),
                                 part.skipped_images.end());
    std::vector<PendingHash>& p = walks[t]->pending();
    std::move(p.begin(), p.end(), std::back_inserter(pending));
    std::vector<PendingHash>& hp = walks[t]->hashed_paths();
    std::move(hp.begin(), hp.end(), std::back_inserter(hashed_paths));
    std::vector<Hashed>& h = walks[t]->hashed();
    std::move(h.begin(), h.end(), std::back_inserter(hashed));
  }

  return absl::OkStatus();
}

// Hashes what the cache did not know, biggest first so threads finish
// together.
std::vector<Hashed> HashPending(const ScanOptions& options, std::vector<PendingHash>& pending) {
  std::sort(pending.begin(), pending.end(),
            [](const PendingHash& a, const PendingHash& b) { return a.size > b.size; });
  std::vector<Hashed> hashed(pending.size());
  const int threads =
      static_cast<int>(std::min<size_t>(std::max(1, options.hash_threads), pending.size()));
  // Fewer big files than threads (one file appended to, say): each big file's
  // whole digest gets a thread of its own beside its chunks.
  const size_t big =
      static_cast<size_t>(std::count_if(pending.begin(), pending.end(), [](const PendingHash& p) {
        return p.size >= ContentChunker::kChunkedFileMin;
      }));
  const ContentChunker::WholeDigest whole = big < static_cast<size_t>(options.hash_threads)
                                                ? ContentChunker::WholeDigest::kOwnThread
                                                : ContentChunker::WholeDigest::kSameThread;
  std::atomic<size_t> next{0};
  auto worker = [&]() {
    std::vector<char> buffer(1 << 20);
    for (size_t i = next++; i < pending.size(); i = next++) {
      hashed[i] = HashOne(options.root, pending[i].path, whole, &buffer);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  if (!pending.empty()) worker();
  for (std::thread& t : pool) t.join();

  return hashed;
}

// Records the new hashes in the cache and the manifest (images are
// skipped, files deleted meanwhile dropped).
absl::Status AddHashed(const std::vector<PendingHash>& pending, std::vector<Hashed>& hashed,
                       ScanCache* cache, ScanResult& result) {
  for (size_t i = 0; i < pending.size(); ++i) {
    Hashed& h = hashed[i];
    if (!h.ok) {
      if (h.error.find("No such file") != std::string::npos) continue;  // deleted meanwhile
      return absl::InternalError(h.error);
    }
    cache->Put(pending[i].path, h.record);
    if (h.image) {
      result.skipped_images.push_back(pending[i].path);
      continue;
    }
    ++result.files_hashed;
    result.bytes_hashed += h.record.size;
    ManifestEntry* entry = result.manifest().add_entries();
    entry->set_path(pending[i].path);
    entry->set_type(ENTRY_TYPE_FILE);
    entry->set_mode(h.mode);
    entry->set_mtime_ns(h.record.mtime_ns);
    *entry->mutable_digest() = MakeDigest(HexOfRaw(h.record.sha256), h.record.size);
    SetChunkList(h.record, entry);
  }
  return absl::OkStatus();
}

// Sorts the manifest and counts its files.
void FinishResult(ScanResult& result) {
  auto* entries = result.manifest().mutable_entries();
  std::sort(entries->pointer_begin(), entries->pointer_end(),
            [](const ManifestEntry* a, const ManifestEntry* b) { return a->path() < b->path(); });
  for (const ManifestEntry& e : result.manifest().entries()) {
    if (e.type() == ENTRY_TYPE_FILE) {
      ++result.files;
      result.bytes += e.digest().size_bytes();
    }
  }
  std::sort(result.skipped_images.begin(), result.skipped_images.end());
}

}  // namespace

absl::StatusOr<ScanResult> Scanner::Scan(const ScanOptions& options) {
  ScanResult result;
  cache_->BeginScan();
  UniqueFd root(open(options.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    return absl::NotFoundError(
        absl::StrCat("cube directory ", options.root, ": ", strerror(errno)));
  }
  std::vector<PendingHash> pending, hashed_paths;
  std::vector<Hashed> hashed_while_walking;
  if (absl::Status s = WalkTree(options, cache_, std::move(root), result, pending, hashed_paths,
                                hashed_while_walking);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = AddHashed(hashed_paths, hashed_while_walking, cache_, result); !s.ok()) {
    return s;
  }
  std::vector<Hashed> hashed = HashPending(options, pending);
  if (absl::Status s = AddHashed(pending, hashed, cache_, result); !s.ok()) return s;
  cache_->DropUnseen();
  FinishResult(result);
  return result;
}

}  // namespace mlcube
