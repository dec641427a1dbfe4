#include "controller/sync/pull_operation.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/grpc_status.h"
#include "common/manifest_validator.h"
#include "common/unique_fd.h"
#include "controller/sync/blob_uploader.h"
#include "controller/sync/delta_fetcher.h"
#include "controller/sync/parallel_runner.h"
#include "controller/terminal/progress_reporter.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

namespace {

constexpr int64_t kMaxPayload = 1 << 20;

int64_t Nanos(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

ScanCache::Record RecordOf(const struct stat& st, absl::string_view hash) {
  ScanCache::Record r;
  r.size = st.st_size;
  r.mtime_ns = Nanos(st.st_mtim);
  r.ctime_ns = Nanos(st.st_ctim);
  r.inode = st.st_ino;
  RawFromHex(hash, &r.sha256);
  r.synced = true;
  return r;
}

// Sets mode and mtime of a freshly written temp file from its entry.
void FinishTemp(int fd, const v1::ManifestEntry& entry) {
  fchmod(fd, entry.mode() != 0 ? entry.mode() : 0644);
  struct timespec times[2];
  times[0].tv_nsec = UTIME_OMIT;
  times[0].tv_sec = 0;
  times[1].tv_sec = entry.mtime_ns() / 1000000000;
  times[1].tv_nsec = entry.mtime_ns() % 1000000000;
  futimens(fd, times);
}

absl::StatusOr<UniqueFd> CreateTemp(const PullOperation::Target& t) {
  UniqueFd fd(open(t.temp_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return absl::InternalError(absl::StrCat("create ", t.temp_path, ": ", strerror(errno)));
  return fd;
}

absl::Status WriteTemp(const PullOperation::Target& t, const std::string& data) {
  absl::StatusOr<UniqueFd> fd = CreateTemp(t);
  if (!fd.ok()) return fd.status();
  if (absl::Status s = WriteAllAt(fd->get(), data, 0, t.temp_path); !s.ok()) return s;
  FinishTemp(fd->get(), *t.entry);
  return absl::OkStatus();
}

// Blobs grouped into jobs: one per large blob, batches of small ones.
std::vector<std::vector<v1Digest>> MakeJobs(const std::vector<v1Digest>& order) {
  std::vector<std::vector<v1Digest>> jobs;
  int64_t batch_bytes = 0;
  bool open_batch = false;
  for (const v1Digest& d : order) {
    if (d.size_bytes() > BlobUploader::kBatchThreshold) {
      jobs.push_back({d});
      open_batch = false;
      continue;
    }
    if (!open_batch || batch_bytes + d.size_bytes() > kMaxPayload) {
      jobs.emplace_back();
      batch_bytes = 0;
      open_batch = true;
    }
    jobs.back().push_back(d);
    batch_bytes += d.size_bytes();
  }
  return jobs;
}

void SetDeadline(grpc::ClientContext* ctx, int seconds) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
}

}  // namespace

absl::Status PullOperation::LoadSnapshot() {
  v1::SnapshotRequest request;
  request.set_cube_id(options_.cube_id);
  for (const std::string& p : options_.paths) request.add_paths(p);
  request.set_job_id(options_.job_id);
  request.set_skip_missing(options_.skip_missing);
  request.set_chunk_big_files(true);
  v1::SnapshotResponse snapshot;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 3600);
  grpc::Status s = workspaces_->Snapshot(&ctx, request, &snapshot);
  if (!s.ok()) return FromGrpcStatus(s, "Snapshot");
  absl::StatusOr<std::string> bytes = downloader_.ReadSmall(snapshot.manifest_digest());
  if (!bytes.ok()) return bytes.status();
  if (!manifest_.ParseFromString(*bytes)) {
    return absl::DataLossError("snapshot manifest is corrupt");
  }
  return ManifestValidator::Validate(manifest_);
}

absl::Status PullOperation::PlanDirectory(const std::string& local, bool exists, bool is_dir) {
  if (options_.dry_run || (exists && is_dir)) return absl::OkStatus();
  std::error_code ec;
  std::filesystem::create_directories(local, ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", local, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status PullOperation::PlanSymlink(const v1::ManifestEntry& e, const std::string& local,
                                        bool exists, bool is_link) {
  if (options_.dry_run) return absl::OkStatus();
  if (exists && !is_link) {
    stats_.conflicts.push_back(local);
    return absl::OkStatus();
  }
  const std::string temp = local + ".mlcube-pull.tmp";
  unlink(temp.c_str());
  if (symlink(e.symlink_target().c_str(), temp.c_str()) != 0 ||
      rename(temp.c_str(), local.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("symlink ", local, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status PullOperation::PlanFile(const v1::ManifestEntry& e, const std::string& local,
                                     const std::string& key, int index) {
  ++stats_.files_listed;
  std::string dest = local;
  struct stat st;
  const bool exists = lstat(local.c_str(), &st) == 0;
  if (exists && S_ISREG(st.st_mode)) {
    const ScanCache::Record* rec = key.empty() ? nullptr
                                               : cache_->Find(key, st.st_size, Nanos(st.st_mtim),
                                                              Nanos(st.st_ctim), st.st_ino);
    std::string local_hash;
    if (rec != nullptr) {
      local_hash = HexOfRaw(rec->sha256);
    } else {
      absl::StatusOr<v1Digest> d = DigestOfFile(local);
      if (!d.ok()) return d.status();
      local_hash = d->hash();
    }
    if (local_hash == e.digest().hash() && st.st_size == e.digest().size_bytes()) {
      ++stats_.files_unchanged;
      if (!key.empty() && (rec == nullptr || !rec->synced))
        cache_->Put(key, RecordOf(st, local_hash));
      return absl::OkStatus();
    }
    if (rec == nullptr || !rec->synced) {
      dest = local + ".remote";
      stats_.conflicts.push_back(local);
    }
  } else if (exists) {
    dest = local + ".remote";
    stats_.conflicts.push_back(local);
  }
  const std::string dir = std::filesystem::path(dest).parent_path().string();
  if (!options_.dry_run) {
    // A file output's directory may be new here (the task made it).
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return absl::InternalError(absl::StrCat("mkdir ", dir, ": ", ec.message()));
  }
  targets_.push_back({&e, dest, absl::StrCat(dir, "/.mlcube-pull-", index, ".tmp"),
                      dest == local ? key : "",
                      exists && S_ISREG(st.st_mode) ? local : std::string()});
  return absl::OkStatus();
}

absl::Status PullOperation::Plan() {
  std::string key_prefix;
  if (options_.workspace.rfind(options_.cube_root + "/", 0) == 0) {
    key_prefix = options_.workspace.substr(options_.cube_root.size() + 1) + "/";
  }
  int index = 0;
  for (const v1::ManifestEntry& e : manifest_.entries()) {
    ++index;
    const std::string local = absl::StrCat(options_.workspace, "/", e.path());
    struct stat st;
    const bool exists = lstat(local.c_str(), &st) == 0;
    absl::Status s;
    if (e.type() == v1::ENTRY_TYPE_DIRECTORY) {
      s = PlanDirectory(local, exists, exists && S_ISDIR(st.st_mode));
    } else if (e.type() == v1::ENTRY_TYPE_SYMLINK) {
      s = PlanSymlink(e, local, exists, exists && S_ISLNK(st.st_mode));
    } else {
      s = PlanFile(e, local, key_prefix.empty() ? "" : key_prefix + e.path(), index);
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status PullOperation::WriteTargets(const v1Digest& digest, const std::string& data) {
  for (const Target* t : by_digest_[digest.hash()]) {
    if (absl::Status s = WriteTemp(*t, data); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status PullOperation::FetchInto(const Target& target, int fd,
                                      std::atomic<int64_t>* received) {
  const v1::ManifestEntry& entry = *target.entry;
  if (entry.has_chunk_list() && !target.basis.empty()) {
    UniqueFd basis(open(target.basis.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (basis) {
      absl::StatusOr<int64_t> fetched = DeltaFetcher(&downloader_).Fetch(entry, basis.get(), fd);
      if (!fetched.ok()) return fetched.status();
      *received += *fetched;
      return absl::OkStatus();
    }
  }
  if (absl::Status s = downloader_.ReadToFile(entry.digest(), fd); !s.ok()) return s;
  *received += entry.digest().size_bytes();
  return absl::OkStatus();
}

absl::Status PullOperation::FetchLarge(const v1Digest& digest, std::atomic<int64_t>* received) {
  // Fetched into one file that wants it (one with a local basis first),
  // copied from there to the rest.
  std::vector<const Target*> wanted = by_digest_[digest.hash()];
  std::stable_partition(wanted.begin(), wanted.end(),
                        [](const Target* t) { return !t->basis.empty(); });
  absl::StatusOr<UniqueFd> first = CreateTemp(*wanted[0]);
  if (!first.ok()) return first.status();
  if (absl::Status s = FetchInto(*wanted[0], first->get(), received); !s.ok()) return s;
  FinishTemp(first->get(), *wanted[0]->entry);
  for (size_t i = 1; i < wanted.size(); ++i) {
    absl::StatusOr<UniqueFd> copy = CreateTemp(*wanted[i]);
    if (!copy.ok()) return copy.status();
    absl::Status s =
        CopyFileRange(first->get(), 0, copy->get(), 0, digest.size_bytes(), wanted[i]->temp_path);
    if (!s.ok()) return s;
    FinishTemp(copy->get(), *wanted[i]->entry);
  }
  return absl::OkStatus();
}

absl::Status PullOperation::Fetch() {
  // Each distinct blob once.
  std::vector<v1Digest> order;
  int64_t total_bytes = 0;
  for (const Target& t : targets_) {
    auto& list = by_digest_[t.entry->digest().hash()];
    if (list.empty()) {
      order.push_back(t.entry->digest());
      total_bytes += t.entry->digest().size_bytes();
    }
    list.push_back(&t);
  }
  const std::vector<std::vector<v1Digest>> jobs = MakeJobs(order);
  ProgressReporter progress(stderr, options_.interactive, "pull",
                            static_cast<int64_t>(order.size()), total_bytes);
  if (options_.show_progress) progress.Start();
  std::atomic<int64_t> received{0};
  auto count = [&](const v1Digest& d) {
    progress.AddBytes(d.size_bytes());
    progress.AddFiles(1);
  };
  absl::Status status = RunParallel(jobs.size(), [&](size_t i) -> absl::Status {
    const std::vector<v1Digest>& job = jobs[i];
    if (job.size() == 1 && job[0].size_bytes() > BlobUploader::kBatchThreshold) {
      if (absl::Status s = FetchLarge(job[0], &received); !s.ok()) return s;
      count(job[0]);
      return absl::OkStatus();
    }
    return downloader_.ReadBatch(job, [&](const v1Digest& d, const std::string& data) {
      if (absl::Status s = WriteTargets(d, data); !s.ok()) return s;
      received += d.size_bytes();
      count(d);
      return absl::OkStatus();
    });
  });
  progress.Stop();
  stats_.bytes_received = received;
  return status;
}

absl::Status PullOperation::Place() {
  // Data durable before the renames make it visible.
  {
    UniqueFd ws(open(options_.workspace.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (ws && !targets_.empty()) syncfs(ws.get());
  }
  for (const Target& t : targets_) {
    if (rename(t.temp_path.c_str(), t.final_path.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("rename into ", t.final_path, ": ", strerror(errno)));
    }
    ++stats_.files_written;
    if (t.cache_key.empty()) continue;
    struct stat st;
    if (lstat(t.final_path.c_str(), &st) != 0) continue;
    cache_->Put(t.cache_key, RecordOf(st, t.entry->digest().hash()));
  }
  return absl::OkStatus();
}

absl::StatusOr<PullStats> PullOperation::Run() {
  if (absl::Status s = LoadSnapshot(); !s.ok()) return s;
  if (absl::Status s = Plan(); !s.ok()) return s;
  if (options_.dry_run) {
    stats_.files_written = static_cast<int64_t>(targets_.size());
    for (const Target& t : targets_) stats_.bytes_received += t.entry->digest().size_bytes();
    return stats_;
  }
  if (absl::Status s = Fetch(); !s.ok()) {
    for (const Target& t : targets_) unlink(t.temp_path.c_str());
    return s;
  }
  if (absl::Status s = Place(); !s.ok()) return s;
  cache_->Save().IgnoreError();
  return stats_;
}

}  // namespace mlcube
