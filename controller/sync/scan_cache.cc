#include "controller/sync/scan_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/file_util.h"
#include "common/unique_fd.h"

namespace mlcube {

namespace {

constexpr char kMagic[8] = {'M', 'L', 'C', 'S', 'C', 'N', '0', '2'};
// Bounds a corrupt file's claims before anything is allocated for them.
constexpr uint32_t kMaxChunksPerRecord = 1u << 24;

template <typename T>
void Append(std::string* out, T value) {
  out->append(reinterpret_cast<const char*>(&value), sizeof(value));
}

template <typename T>
bool Take(absl::string_view* in, T* value) {
  if (in->size() < sizeof(T)) return false;
  memcpy(value, in->data(), sizeof(T));
  in->remove_prefix(sizeof(T));
  return true;
}

bool LoadChunks(absl::string_view* in, std::vector<ScanCache::ChunkRef>* chunks) {
  uint32_t count = 0;
  if (!Take(in, &count) || count > kMaxChunksPerRecord ||
      in->size() < static_cast<size_t>(count) * (32 + sizeof(uint32_t))) {
    return false;
  }
  chunks->resize(count);
  for (ScanCache::ChunkRef& chunk : *chunks) {
    if (!Take(in, &chunk.sha256) || !Take(in, &chunk.size)) return false;
  }
  return true;
}

// One record: its key is a view into `in`'s buffer.
template <typename Map>
bool LoadRecord(absl::string_view* in, Map* records) {
  uint32_t len = 0;
  if (!Take(in, &len) || in->size() < len) return false;
  const absl::string_view path = in->substr(0, len);
  in->remove_prefix(len);
  typename Map::mapped_type slot;
  uint8_t flags = 0;
  if (!Take(in, &slot.record.size) || !Take(in, &slot.record.mtime_ns) ||
      !Take(in, &slot.record.ctime_ns) || !Take(in, &slot.record.inode) ||
      !Take(in, &slot.record.sha256) || !Take(in, &flags)) {
    return false;
  }
  slot.record.synced = flags & 1;
  slot.record.image = flags & 2;
  if (!LoadChunks(in, &slot.record.chunks)) return false;
  (*records)[path] = std::move(slot);
  return true;
}

}  // namespace

std::string ControllerCacheDir() {
  std::string base;
  if (const char* xdg = getenv("XDG_CACHE_HOME"); xdg != nullptr && xdg[0] == '/') {
    base = xdg;
  } else if (const char* home = getenv("HOME"); home != nullptr && home[0] == '/') {
    base = absl::StrCat(home, "/.cache");
  } else {
    base = "/tmp";
  }
  return base + "/mlcube-remote";
}

std::string ScanCache::DefaultFileFor(absl::string_view cube_root) {
  return absl::StrCat(ControllerCacheDir(), "/scan/", DigestOf(cube_root).hash().substr(0, 32),
                      ".bin");
}

ScanCache ScanCache::Load(const std::string& file) {
  ScanCache cache;
  cache.file_ = file;
  UniqueFd fd(open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return cache;
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return cache;
  const size_t file_size = static_cast<size_t>(st.st_size);
  std::unique_ptr<char[]> data(new char[file_size]);
  size_t done = 0;
  while (done < file_size) {
    ssize_t n = read(fd.get(), data.get() + done, file_size - done);
    if (n <= 0) return cache;
    done += static_cast<size_t>(n);
  }
  absl::string_view in(data.get(), file_size);
  if (in.size() < sizeof(kMagic) || memcmp(in.data(), kMagic, sizeof(kMagic)) != 0) return cache;
  in.remove_prefix(sizeof(kMagic));
  uint64_t count = 0;
  // Each record takes at least 4 + 32 + 4 * 8 + 1 + 4 bytes: a corrupt count
  // is refused before anything is reserved for it.
  if (!Take(&in, &count) || count > in.size() / 73) return cache;
  cache.records_.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    if (!LoadRecord(&in, &cache.records_)) {
      ScanCache empty;
      empty.file_ = file;
      return empty;
    }
  }
  cache.loaded_ = std::move(data);
  return cache;
}

const ScanCache::Record* ScanCache::Find(absl::string_view path, int64_t size, int64_t mtime_ns,
                                         int64_t ctime_ns, uint64_t inode) const {
  auto it = records_.find(path);
  if (it == records_.end()) return nullptr;
  return Matching(it->second.record, size, mtime_ns, ctime_ns, inode);
}

const ScanCache::Record* ScanCache::FindForScan(absl::string_view path, int64_t size,
                                                int64_t mtime_ns, int64_t ctime_ns,
                                                uint64_t inode) {
  auto it = records_.find(path);
  if (it == records_.end()) return nullptr;
  it->second.seen = true;
  return Matching(it->second.record, size, mtime_ns, ctime_ns, inode);
}

const ScanCache::Record* ScanCache::Matching(const Record& r, int64_t size, int64_t mtime_ns,
                                             int64_t ctime_ns, uint64_t inode) {
  if (r.size != size || r.mtime_ns != mtime_ns || r.ctime_ns != ctime_ns || r.inode != inode) {
    return nullptr;
  }
  return &r;
}

const ScanCache::Record* ScanCache::FindAny(absl::string_view path) const {
  auto it = records_.find(path);
  return it == records_.end() ? nullptr : &it->second.record;
}

void ScanCache::Put(std::string path, const Record& record) {
  auto it = records_.find(path);
  if (it == records_.end()) {
    put_keys_.push_back(std::move(path));
    it = records_.try_emplace(put_keys_.back()).first;
  }
  Slot& slot = it->second;
  slot.record = record;
  slot.seen = true;
  dirty_ = true;
}

void ScanCache::BeginScan() {
  for (auto& [path, slot] : records_) slot.seen = false;
}

void ScanCache::DropUnseen() {
  for (auto it = records_.begin(); it != records_.end();) {
    if (!it->second.seen) {
      records_.erase(it++);
      dirty_ = true;
    } else {
      ++it;
    }
  }
}

void ScanCache::MarkAllSynced() {
  for (auto& [path, slot] : records_) {
    if (!slot.record.synced && !slot.record.image) {
      slot.record.synced = true;
      dirty_ = true;
    }
  }
}

absl::Status ScanCache::Save() {
  if (!dirty_ || file_.empty()) return absl::OkStatus();
  std::string out(kMagic, sizeof(kMagic));
  out.reserve(records_.size() * 100);
  Append<uint64_t>(&out, records_.size());
  for (const auto& [path, slot] : records_) {
    Append<uint32_t>(&out, static_cast<uint32_t>(path.size()));
    out.append(path.data(), path.size());
    Append(&out, slot.record.size);
    Append(&out, slot.record.mtime_ns);
    Append(&out, slot.record.ctime_ns);
    Append(&out, slot.record.inode);
    Append(&out, slot.record.sha256);
    Append<uint8_t>(&out, (slot.record.synced ? 1 : 0) | (slot.record.image ? 2 : 0));
    Append<uint32_t>(&out, static_cast<uint32_t>(slot.record.chunks.size()));
    for (const ChunkRef& chunk : slot.record.chunks) {
      Append(&out, chunk.sha256);
      Append(&out, chunk.size);
    }
  }
  const size_t slash = file_.rfind('/');
  if (slash != std::string::npos && slash > 0) MakeDirs(file_.substr(0, slash), 0700).IgnoreError();
  std::string temp = file_ + ".XXXXXX";
  UniqueFd fd(mkstemp(temp.data()));
  if (!fd) return absl::InternalError(absl::StrCat("scan cache ", temp, ": ", strerror(errno)));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = write(fd.get(), out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      unlink(temp.c_str());
      return absl::InternalError(absl::StrCat("writing scan cache: ", strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  fd.Reset();
  if (rename(temp.c_str(), file_.c_str()) != 0) {
    unlink(temp.c_str());
    return absl::InternalError(absl::StrCat("renaming scan cache: ", strerror(errno)));
  }
  dirty_ = false;
  return absl::OkStatus();
}

}  // namespace mlcube
