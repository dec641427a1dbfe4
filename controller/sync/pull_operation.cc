#include "controller/sync/pull_operation.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/beneath_dir.h"
#include "common/content_chunker.h"
#include "common/file_util.h"
#include "common/grpc_status.h"
#include "common/manifest_validator.h"
#include "common/safe_path.h"
#include "common/unique_fd.h"
#include "controller/sync/blob_uploader.h"
#include "controller/sync/delta_fetcher.h"
#include "controller/sync/parallel_runner.h"
#include "controller/sync/pull_scope.h"
#include "controller/terminal/progress_reporter.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

namespace {

constexpr int64_t kMaxPayload = 1 << 20;

ScanCache::Record RecordOf(const struct stat& st, absl::string_view hash) {
  ScanCache::Record r;
  r.size = st.st_size;
  r.mtime_ns = TimespecNs(st.st_mtim);
  r.ctime_ns = TimespecNs(st.st_ctim);
  r.inode = st.st_ino;
  RawFromHex(hash, &r.sha256);
  r.synced = true;
  return r;
}

// Sets mode and mtime of a freshly written temp file from its entry.
void FinishTemp(int fd, const v1::ManifestEntry& entry) {
  // Start writing a big file out now, while the rest arrives: the syncfs
  // before the renames then has less to wait for.
  if (entry.digest().size_bytes() >= ContentChunker::kChunkedFileMin) {
    sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  }
  const mode_t mode = ManifestValidator::SafeMode(entry.mode());
  fchmod(fd, mode != 0 ? mode : 0644);
  futimens(fd, MtimeOnlyTimes(entry.mtime_ns()).data());
}

// The entry's directory (workspace-relative) and name.
std::pair<std::string, std::string> SplitPath(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {"", path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

std::string JoinRel(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : absl::StrCat(dir, "/", name);
}

// How many entries a serialized Manifest holds (field 1), without parsing
// them; -1 when it is not a well-formed message.
int64_t CountEntries(const std::string& bytes) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  int64_t count = 0;
  for (uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
    if (google::protobuf::internal::WireFormatLite::GetTagFieldNumber(tag) == 1) ++count;
    if (!google::protobuf::internal::WireFormatLite::SkipField(&in, tag)) return -1;
  }
  return in.ConsumedEntireMessage() ? count : -1;
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

absl::StatusOr<v1::Manifest> PullOperation::ParseManifest(const std::string& bytes) {
  const int64_t count = CountEntries(bytes);
  if (count < 0) return absl::DataLossError("the host's snapshot manifest is corrupt");
  if (count > kMaxEntries) {
    return absl::FailedPreconditionError(absl::StrCat("the host's snapshot lists ", count,
                                                      " entries, more than a pull takes (",
                                                      kMaxEntries, "); pull fewer paths"));
  }
  v1::Manifest manifest;
  if (!manifest.ParseFromString(bytes)) {
    return absl::DataLossError("the host's snapshot manifest is corrupt");
  }
  return manifest;
}

bool PullOperation::MayHaveLocalBasis() const {
  // Chunk lists only pay where an older local version may be rebuilt from:
  // a pull into paths that are not here at all asks for whole files, and
  // the agent lists no chunks.
  if (options_.paths.empty() && options_.outputs.empty()) return true;
  struct stat st;
  for (const std::vector<std::string>* list : {&options_.paths, &options_.outputs}) {
    for (const std::string& rel : *list) {
      if (lstat(absl::StrCat(options_.workspace, "/", rel).c_str(), &st) == 0) return true;
    }
  }
  return false;
}

absl::Status PullOperation::LoadSnapshot() {
  v1::SnapshotRequest request;
  request.set_cube_id(options_.cube_id);
  for (const std::string& p : options_.paths) request.add_paths(p);
  request.set_job_id(options_.job_id);
  request.set_skip_missing(options_.skip_missing);
  request.set_chunk_big_files(MayHaveLocalBasis());
  v1::SnapshotResponse snapshot;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 3600);
  grpc::Status s = workspaces_->Snapshot(&ctx, request, &snapshot);
  if (!s.ok()) return FromGrpcStatus(s, "Snapshot");
  absl::StatusOr<std::string> bytes = downloader_.ReadSmall(snapshot.manifest_digest());
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<v1::Manifest> listed = ParseManifest(*bytes);
  if (!listed.ok()) return listed.status();
  bytes->clear();
  PullScope::Dropped dropped;
  manifest_ = PullScope::For(options_).Filter(&*listed, &dropped);
  const std::string warning = dropped.Warning("left out what the host listed beyond this pull:");
  if (!warning.empty()) stats_.warnings.push_back(warning);
  // Sorted, unique, nothing below a listed file or symlink.
  return ManifestValidator::Validate(manifest_);
}

absl::Status PullOperation::Refuse(const std::string& path, const absl::Status& why) {
  if (why.code() != absl::StatusCode::kFailedPrecondition &&
      why.code() != absl::StatusCode::kInvalidArgument) {
    return why;
  }
  refused_.Note(path, why.message());
  return absl::OkStatus();
}

absl::Status PullOperation::PlanDirectory(const v1::ManifestEntry& e) {
  if (options_.dry_run) return absl::OkStatus();
  absl::StatusOr<UniqueFd> dir = workspace_dir_->OpenDir(e.path(), /*create=*/true);
  return dir.ok() ? absl::OkStatus() : Refuse(e.path(), dir.status());
}

absl::Status PullOperation::PlanSymlink(const v1::ManifestEntry& e,
                                        const BeneathDir::Parent& parent, const struct stat* local,
                                        int index) {
  if (options_.dry_run) return absl::OkStatus();
  if (local != nullptr && !S_ISLNK(local->st_mode)) {
    stats_.conflicts.push_back(absl::StrCat(options_.workspace, "/", e.path()));
    return absl::OkStatus();
  }
  absl::Status placed = ReplaceWithSymlinkAt(
      parent.dir.get(), parent.name, e.symlink_target(),
      absl::StrCat(PullScope::kTempPrefix, index, ".tmp"),
      absl::StrCat("'", PrintableExcerpt(e.path()), "' in ", options_.workspace));
  return placed.ok() ? absl::OkStatus() : Refuse(e.path(), placed);
}

absl::StatusOr<std::string> PullOperation::LocalHash(int dir_fd, const std::string& name,
                                                     const std::string& path, const struct stat& st,
                                                     const std::string& key, bool* synced) {
  const ScanCache::Record* rec = key.empty() ? nullptr
                                             : cache_->Find(key, st.st_size, TimespecNs(st.st_mtim),
                                                            TimespecNs(st.st_ctim), st.st_ino);
  *synced = rec != nullptr && rec->synced;
  if (rec != nullptr) return HexOfRaw(rec->sha256);
  absl::StatusOr<UniqueFd> fd = OpenRegularAt(dir_fd, name, absl::StrCat("'", path, "'"));
  if (!fd.ok()) return fd.status();
  absl::StatusOr<v1Digest> d = DigestOfFd(fd->get());
  if (!d.ok()) return d.status();
  return d->hash();
}

absl::Status PullOperation::PlanFile(const v1::ManifestEntry& e, const BeneathDir::Parent& parent,
                                     const struct stat* local, const std::string& key, int index) {
  ++stats_.files_listed;
  std::string name = parent.name;
  const bool regular = local != nullptr && S_ISREG(local->st_mode);
  const std::string local_path = absl::StrCat(options_.workspace, "/", e.path());
  if (regular) {
    bool synced = false;
    absl::StatusOr<std::string> local_hash =
        LocalHash(parent.dir.get(), parent.name, e.path(), *local, key, &synced);
    if (!local_hash.ok()) return Refuse(e.path(), local_hash.status());
    if (*local_hash == e.digest().hash() && local->st_size == e.digest().size_bytes()) {
      ++stats_.files_unchanged;
      if (!key.empty() && !synced) cache_->Put(key, RecordOf(*local, *local_hash));
      return absl::OkStatus();
    }
    if (!synced) name += ".remote";
  } else if (local != nullptr) {
    name += ".remote";
  }
  if (name != parent.name) stats_.conflicts.push_back(local_path);
  const std::string dir = SplitPath(e.path()).first;
  targets_.push_back({&e, dir, name, absl::StrCat(PullScope::kTempPrefix, index, ".tmp"),
                      name == parent.name ? key : "", regular ? parent.name : std::string()});
  return absl::OkStatus();
}

absl::Status PullOperation::PlanEntry(const v1::ManifestEntry& e, const std::string& key,
                                      int index) {
  if (e.type() == v1::ENTRY_TYPE_DIRECTORY) return PlanDirectory(e);
  // A dry run into a directory not made yet: all of it is new.
  const BeneathDir::Parent missing{UniqueFd(), SplitPath(e.path()).second};
  const bool file = e.type() == v1::ENTRY_TYPE_FILE;
  if (!workspace_dir_.has_value()) {
    return file ? PlanFile(e, missing, nullptr, key, index) : absl::OkStatus();
  }
  // A file output's directory may be new here (the task made it).
  absl::StatusOr<BeneathDir::Parent> parent =
      workspace_dir_->OpenParent(e.path(), /*create=*/!options_.dry_run);
  if (!parent.ok() && options_.dry_run && absl::IsNotFound(parent.status())) {
    return file ? PlanFile(e, missing, nullptr, key, index) : absl::OkStatus();
  }
  if (!parent.ok()) return Refuse(e.path(), parent.status());
  struct stat st;
  const bool exists =
      fstatat(parent->dir.get(), parent->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (e.type() == v1::ENTRY_TYPE_SYMLINK) {
    return PlanSymlink(e, *parent, exists ? &st : nullptr, index);
  }
  return PlanFile(e, *parent, exists ? &st : nullptr, key, index);
}

absl::Status PullOperation::Plan() {
  std::string key_prefix;
  if (options_.workspace.rfind(options_.cube_root + "/", 0) == 0) {
    key_prefix = options_.workspace.substr(options_.cube_root.size() + 1) + "/";
  }
  if (!options_.dry_run) {
    if (absl::Status made = MakeDirs(options_.workspace); !made.ok()) return made;
  }
  absl::StatusOr<BeneathDir> workspace = BeneathDir::Open(options_.workspace);
  if (workspace.ok()) {
    workspace_dir_.emplace(*std::move(workspace));
  } else if (!options_.dry_run) {
    return workspace.status();
  }
  int index = 0;
  for (const v1::ManifestEntry& e : manifest_.entries()) {
    ++index;
    const std::string key = key_prefix.empty() ? "" : key_prefix + e.path();
    if (absl::Status s = PlanEntry(e, key, index); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> PullOperation::CreateTemp(const Target& t) const {
  absl::StatusOr<UniqueFd> dir = workspace_dir_->OpenDir(t.dir, /*create=*/false);
  if (!dir.ok()) return dir.status();
  return CreateFileAt(dir->get(), t.temp_name,
                      absl::StrCat("'", PrintableExcerpt(JoinRel(t.dir, t.temp_name)), "' in ",
                                   options_.workspace));
}

absl::Status PullOperation::WriteTemp(const Target& t, const std::string& data) const {
  absl::StatusOr<UniqueFd> fd = CreateTemp(t);
  if (!fd.ok()) return fd.status();
  if (absl::Status s = WriteAllAt(fd->get(), data, 0, JoinRel(t.dir, t.temp_name)); !s.ok()) {
    return s;
  }
  FinishTemp(fd->get(), *t.entry);
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
  if (entry.has_chunk_list() && !target.basis_name.empty()) {
    absl::StatusOr<UniqueFd> dir = workspace_dir_->OpenDir(target.dir, /*create=*/false);
    absl::StatusOr<UniqueFd> basis =
        dir.ok() ? OpenRegularAt(dir->get(), target.basis_name, entry.path()) : dir.status();
    if (basis.ok()) {
      absl::StatusOr<int64_t> fetched = DeltaFetcher(&downloader_).Fetch(entry, basis->get(), fd);
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
                        [](const Target* t) { return !t->basis_name.empty(); });
  absl::StatusOr<UniqueFd> first = CreateTemp(*wanted[0]);
  if (!first.ok()) return first.status();
  if (absl::Status s = FetchInto(*wanted[0], first->get(), received); !s.ok()) return s;
  FinishTemp(first->get(), *wanted[0]->entry);
  for (size_t i = 1; i < wanted.size(); ++i) {
    absl::StatusOr<UniqueFd> copy = CreateTemp(*wanted[i]);
    if (!copy.ok()) return copy.status();
    absl::Status s = CopyFileRange(first->get(), 0, copy->get(), 0, digest.size_bytes(),
                                   JoinRel(wanted[i]->dir, wanted[i]->temp_name));
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

void PullOperation::DiscardTemps() const {
  for (const Target& t : targets_) {
    absl::StatusOr<UniqueFd> dir = workspace_dir_->OpenDir(t.dir, /*create=*/false);
    if (dir.ok()) unlinkat(dir->get(), t.temp_name.c_str(), 0);
  }
}

absl::Status PullOperation::PlaceTarget(const Target& t) {
  const std::string path = JoinRel(t.dir, t.name);
  absl::StatusOr<UniqueFd> dir = workspace_dir_->OpenDir(t.dir, /*create=*/false);
  if (!dir.ok()) return Refuse(path, dir.status());
  // Replaces a file or symlink at the name (never writes through it).
  if (renameat(dir->get(), t.temp_name.c_str(), dir->get(), t.name.c_str()) != 0) {
    const int err = errno;
    unlinkat(dir->get(), t.temp_name.c_str(), 0);
    return Refuse(path, absl::FailedPreconditionError(absl::StrCat(
                            "placing it in ", options_.workspace, ": ", strerror(err))));
  }
  ++stats_.files_written;
  struct stat st;
  if (!t.cache_key.empty() && fstatat(dir->get(), t.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    cache_->Put(t.cache_key, RecordOf(st, t.entry->digest().hash()));
  }
  return absl::OkStatus();
}

absl::Status PullOperation::Place() {
  // Data durable before the renames make it visible.
  if (!targets_.empty()) syncfs(workspace_dir_->fd());
  for (const Target& t : targets_) {
    if (absl::Status s = PlaceTarget(t); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<PullStats> PullOperation::Run() {
  if (absl::Status s = LoadSnapshot(); !s.ok()) return s;
  absl::Status planned = Plan();
  if (planned.ok() && !options_.dry_run) {
    if (absl::Status s = Fetch(); !s.ok()) {
      DiscardTemps();
      return s;
    }
    planned = Place();
  }
  const std::string refused = refused_.Warning("did not place, leaving what is here as it is:");
  if (!refused.empty()) stats_.warnings.push_back(refused);
  if (!planned.ok()) return planned;
  if (options_.dry_run) {
    stats_.files_written = static_cast<int64_t>(targets_.size());
    for (const Target& t : targets_) stats_.bytes_received += t.entry->digest().size_bytes();
    return stats_;
  }
  cache_->Save().IgnoreError();
  return stats_;
}

}  // namespace mlcube
