#include "controller/sync/sync_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/digest.h"
#include "common/grpc_status.h"
#include "common/manifest_validator.h"
#include "common/unique_fd.h"
#include "controller/sync/scanner.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

namespace {

constexpr int64_t kMaxPayload = 1 << 20;
// Blobs up to this size travel in batches; larger ones are streamed.
constexpr int64_t kBatchThreshold = 256 << 10;
constexpr int kFindMissingBatch = 10000;
// Transfers in flight: more than the 2 cores, as each mostly waits on the
// agent's disk.
constexpr int kThreads = 4;

void SetDeadline(grpc::ClientContext* ctx, int seconds) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
}

absl::Status ReadWholeFile(const std::string& path, int64_t size, std::string* out) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return absl::NotFoundError(absl::StrCat("open ", path, ": ", strerror(errno)));
  out->resize(static_cast<size_t>(size));
  size_t done = 0;
  while (done < out->size()) {
    ssize_t n = pread(fd.get(), out->data() + done, out->size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::DataLossError(
          absl::StrCat(path, " changed during the sync (shorter than scanned)"));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Runs jobs 0..count-1 on kThreads threads; stops at the first error.
absl::Status RunParallel(size_t count, const std::function<absl::Status(size_t)>& job) {
  std::atomic<size_t> next{0};
  absl::Mutex mu;
  absl::Status first;
  std::atomic<bool> failed{false};
  auto worker = [&]() {
    for (size_t i = next++; i < count && !failed; i = next++) {
      absl::Status s = job(i);
      if (!s.ok()) {
        absl::MutexLock lock(&mu);
        if (first.ok()) first = s;
        failed = true;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < kThreads && static_cast<size_t>(t) < count; ++t) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();
  return first;
}

struct UploadItem {
  v1Digest digest;
  std::string file;                     // absolute path, or empty for memory
  const std::string* memory = nullptr;  // the manifest
};

}  // namespace

std::shared_ptr<grpc::Channel> OpenAgentChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(8 << 20);
  args.SetMaxSendMessageSize(8 << 20);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

std::string SyncClient::DefaultCubeId(const std::string& cube_root) {
  std::string base = std::filesystem::path(cube_root).filename().string();
  std::string safe;
  for (char c : base) {
    safe.push_back(
        isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ? c : '_');
  }
  if (safe.empty() || safe == "." || safe == "..") safe = "cube";
  if (safe.size() > 119) safe.resize(119);
  return absl::StrCat(safe, "-", DigestOf(cube_root).hash().substr(0, 8));
}

SyncClient::SyncClient(std::shared_ptr<grpc::Channel> channel, ScanCache* cache)
    : channel_(std::move(channel)),
      cas_(v1::ContentStore::NewStub(channel_)),
      workspaces_(v1::Workspaces::NewStub(channel_)),
      cache_(cache) {}

absl::StatusOr<int64_t> SyncClient::UploadStreamed(const v1Digest& digest, const std::string& file,
                                                   const std::string* memory,
                                                   ProgressReporter* progress) {
  for (int attempt = 0;; ++attempt) {
    v1::GetUploadStatusRequest status_request;
    *status_request.mutable_digest() = digest;
    v1::GetUploadStatusResponse status;
    {
      grpc::ClientContext ctx;
      SetDeadline(&ctx, 60);
      grpc::Status s = cas_->GetUploadStatus(&ctx, status_request, &status);
      if (!s.ok()) return FromGrpcStatus(s, "GetUploadStatus");
    }
    if (status.complete()) return 0;
    int64_t offset = status.committed_offset();
    UniqueFd fd;
    if (memory == nullptr) {
      fd.Reset(open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) return absl::NotFoundError(absl::StrCat("open ", file, ": ", strerror(errno)));
      posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    grpc::ClientContext ctx;
    v1::UploadBlobResponse response;
    std::unique_ptr<grpc::ClientWriter<v1::UploadChunk>> writer = cas_->UploadBlob(&ctx, &response);
    int64_t sent = 0;
    v1::UploadChunk chunk;
    *chunk.mutable_digest() = digest;
    absl::Status local_error;
    do {
      const int64_t want = std::min<int64_t>(kMaxPayload, digest.size_bytes() - offset);
      std::string* data = chunk.mutable_data();
      if (memory != nullptr) {
        data->assign(*memory, static_cast<size_t>(offset), static_cast<size_t>(want));
      } else {
        data->resize(static_cast<size_t>(want));
        size_t got = 0;
        while (got < static_cast<size_t>(want)) {
          ssize_t n = pread(fd.get(), data->data() + got, static_cast<size_t>(want) - got,
                            offset + static_cast<int64_t>(got));
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) break;
          got += static_cast<size_t>(n);
        }
        if (got < static_cast<size_t>(want)) {
          local_error = absl::DataLossError(
              absl::StrCat(file, " changed during the sync (shorter than scanned)"));
          break;
        }
      }
      chunk.set_offset(offset);
      chunk.set_finish_write(offset + want == digest.size_bytes());
      if (!writer->Write(chunk)) break;  // the agent ended the stream; Finish says why
      chunk.clear_digest();
      offset += want;
      sent += want;
      if (progress != nullptr) progress->AddBytes(want);
    } while (offset < digest.size_bytes());
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    if (!local_error.ok()) return local_error;
    if (s.error_code() == grpc::StatusCode::ABORTED && attempt < 100) {
      // Another stream uploads the same blob (a twin file): wait for it.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (!s.ok()) {
      if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT && memory == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            "agent refused ", file, ": ", s.error_message(), " (did it change during the sync?)"));
      }
      return FromGrpcStatus(s, absl::StrCat("uploading ", memory ? "the manifest" : file));
    }
    if (!response.complete()) {
      return absl::DataLossError(
          absl::StrCat("upload of ", file, " ended incomplete at ", response.committed_size()));
    }
    return sent;
  }
}

absl::StatusOr<std::string> SyncClient::ReadBlob(const v1Digest& digest) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 300);
  v1::ReadBlobRequest request;
  *request.mutable_digest() = digest;
  std::unique_ptr<grpc::ClientReader<v1::ReadBlobChunk>> reader = cas_->ReadBlob(&ctx, request);
  std::string data;
  data.reserve(static_cast<size_t>(digest.size_bytes()));
  v1::ReadBlobChunk chunk;
  while (reader->Read(&chunk)) data.append(chunk.data());
  grpc::Status s = reader->Finish();
  if (!s.ok()) return FromGrpcStatus(s, "ReadBlob");
  if (!SameDigest(DigestOf(data), digest)) {
    return absl::DataLossError(absl::StrCat("blob ", DigestKey(digest), " arrived corrupted"));
  }
  return data;
}

absl::StatusOr<PushStats> SyncClient::Push(const PushOptions& options) {
  PushStats stats;
  // Ask for the agent's committed manifests while scanning: on a no-op sync
  // the connection set-up and this call overlap the walk.
  v1::ListCubesResponse cubes;
  grpc::Status cubes_status;
  std::thread list_cubes([&] {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, 30);
    cubes_status = workspaces_->ListCubes(&ctx, v1::ListCubesRequest(), &cubes);
  });
  struct Joiner {
    std::thread* t;
    ~Joiner() {
      if (t->joinable()) t->join();
    }
  } joiner{&list_cubes};
  Scanner scanner(cache_);
  ScanOptions scan_options;
  scan_options.root = options.cube_root;
  scan_options.rules = options.rules;
  scan_options.exclude_dirs = options.exclude_dirs;
  absl::StatusOr<ScanResult> scan = scanner.Scan(scan_options);
  if (!scan.ok()) return scan.status();
  stats.files_scanned = scan->files;
  stats.bytes_scanned = scan->bytes;
  stats.files_hashed = scan->files_hashed;
  stats.warnings = scan->warnings;
  stats.skipped_images = scan->skipped_images;

  std::string manifest_bytes;
  scan->manifest().SerializeToString(&manifest_bytes);
  const v1Digest manifest_digest = DigestOf(manifest_bytes);

  // Nothing to do when the agent already committed this exact manifest.
  list_cubes.join();
  if (!cubes_status.ok()) return FromGrpcStatus(cubes_status, "ListCubes");
  for (const v1::CubeSummary& cube : cubes.cubes()) {
    // After a job ran in the cube, its tasks may have written into inputs:
    // commit again so the agent restores whatever differs.
    if (cube.cube_id() == options.cube_id && !cube.workspace_used() &&
        SameDigest(cube.committed_manifest(), manifest_digest)) {
      stats.up_to_date = true;
      stats.bytes_deduplicated = stats.bytes_scanned;
      if (!options.dry_run) cache_->MarkAllSynced();
      cache_->Save().IgnoreError();  // a cache that cannot be saved only costs time
      return stats;
    }
  }

  // Unique blobs of this tree, plus the manifest itself. A file unchanged
  // since the last push that this agent committed is not asked about: the
  // agent has it in the cube's workspace. (If a task rewrote it there, the
  // commit fails with FAILED_PRECONDITION and the retry asks about all.)
  bool agent_has_cube = false;
  for (const v1::CubeSummary& cube : cubes.cubes()) {
    if (cube.cube_id() == options.cube_id) agent_has_cube = true;
  }
  std::vector<UploadItem> items;
  std::vector<bool> synced;
  absl::flat_hash_set<std::string> seen;
  for (const v1::ManifestEntry& e : scan->manifest().entries()) {
    if (e.type() != v1::ENTRY_TYPE_FILE) continue;
    if (!seen.insert(e.digest().hash()).second) continue;
    const ScanCache::Record* record = agent_has_cube ? cache_->FindAny(e.path()) : nullptr;
    synced.push_back(record != nullptr && record->synced &&
                     HexOfRaw(record->sha256) == e.digest().hash());
    items.push_back({e.digest(), absl::StrCat(options.cube_root, "/", e.path()), nullptr});
  }
  items.push_back({manifest_digest, "", &manifest_bytes});
  synced.push_back(false);

  v1::CommitManifestResponse committed;
  for (int attempt = 0;; ++attempt) {
    absl::flat_hash_set<std::string> missing;
    std::vector<size_t> ask;
    for (size_t i = 0; i < items.size(); ++i) {
      if (attempt > 0 || !synced[i]) ask.push_back(i);
    }
    for (size_t begin = 0; begin < ask.size(); begin += kFindMissingBatch) {
      v1::FindMissingBlobsRequest request;
      for (size_t i = begin; i < std::min(ask.size(), begin + kFindMissingBatch); ++i) {
        *request.add_digests() = items[ask[i]].digest;
      }
      grpc::ClientContext ctx;
      SetDeadline(&ctx, 60);
      v1::FindMissingBlobsResponse response;
      grpc::Status s = cas_->FindMissingBlobs(&ctx, request, &response);
      if (!s.ok()) return FromGrpcStatus(s, "FindMissingBlobs");
      for (const v1Digest& d : response.missing()) missing.insert(d.hash());
    }
    std::vector<const UploadItem*> small;
    std::vector<const UploadItem*> large;
    int64_t missing_file_bytes = 0;
    int64_t missing_files = 0;
    int64_t upload_bytes = 0;
    for (const UploadItem& item : items) {
      if (!missing.contains(item.digest.hash())) continue;
      if (item.memory == nullptr) {
        missing_file_bytes += item.digest.size_bytes();
        ++missing_files;
      }
      upload_bytes += item.digest.size_bytes();
      (item.digest.size_bytes() <= kBatchThreshold ? small : large).push_back(&item);
    }
    stats.bytes_deduplicated = stats.bytes_scanned - missing_file_bytes;
    stats.files_sent += missing_files;
    if (options.dry_run) {
      stats.bytes_sent = missing_file_bytes;
      cache_->Save().IgnoreError();
      return stats;
    }

    // Jobs: large blobs first (biggest first), then batches of small ones.
    std::sort(large.begin(), large.end(), [](const UploadItem* a, const UploadItem* b) {
      return a->digest.size_bytes() > b->digest.size_bytes();
    });
    std::vector<std::vector<const UploadItem*>> batches;
    int64_t batch_bytes = 0;
    for (const UploadItem* item : small) {
      if (batches.empty() || batch_bytes + item->digest.size_bytes() > kMaxPayload ||
          batches.back().size() >= 4000) {
        batches.emplace_back();
        batch_bytes = 0;
      }
      batches.back().push_back(item);
      batch_bytes += item->digest.size_bytes();
    }
    ProgressReporter progress(stderr, options.interactive, "push", missing_files, upload_bytes);
    if (options.show_progress) progress.Start();
    std::atomic<int64_t> bytes_sent{0};
    absl::Status upload_status = RunParallel(large.size() + batches.size(), [&](size_t i) {
      if (i < large.size()) {
        const UploadItem* item = large[i];
        absl::StatusOr<int64_t> sent =
            UploadStreamed(item->digest, item->file, item->memory, &progress);
        if (!sent.ok()) return sent.status();
        bytes_sent += *sent;
        progress.AddFiles(1);
        return absl::OkStatus();
      }
      const std::vector<const UploadItem*>& batch = batches[i - large.size()];
      v1::BatchUploadBlobsRequest request;
      int64_t bytes = 0;
      for (const UploadItem* item : batch) {
        v1::BlobData* blob = request.add_blobs();
        *blob->mutable_digest() = item->digest;
        if (item->memory != nullptr) {
          blob->set_data(*item->memory);
        } else if (absl::Status s =
                       ReadWholeFile(item->file, item->digest.size_bytes(), blob->mutable_data());
                   !s.ok()) {
          return s;
        }
        bytes += item->digest.size_bytes();
      }
      grpc::ClientContext ctx;
      SetDeadline(&ctx, 300);
      v1::BatchUploadBlobsResponse response;
      grpc::Status s = cas_->BatchUploadBlobs(&ctx, request, &response);
      if (!s.ok()) return FromGrpcStatus(s, "BatchUploadBlobs");
      for (int j = 0; j < response.results_size(); ++j) {
        const v1::ItemStatus& item_status = response.results(j).status();
        if (item_status.code() != 0) {
          const std::string what = j < static_cast<int>(batch.size()) && !batch[j]->file.empty()
                                       ? batch[j]->file
                                       : std::string("the manifest");
          return absl::Status(static_cast<absl::StatusCode>(item_status.code()),
                              absl::StrCat("agent refused ", what, ": ", item_status.message()));
        }
      }
      bytes_sent += bytes;
      progress.AddBytes(bytes);
      progress.AddFiles(static_cast<int64_t>(batch.size()));
      return absl::OkStatus();
    });
    progress.Stop();
    stats.bytes_sent += bytes_sent;
    // The scan results are valid whatever happens next; keep them.
    cache_->Save().IgnoreError();
    if (!upload_status.ok()) return upload_status;

    v1::CommitManifestRequest commit;
    commit.set_cube_id(options.cube_id);
    *commit.mutable_manifest_digest() = manifest_digest;
    commit.set_prune(options.prune);
    grpc::ClientContext ctx;
    SetDeadline(&ctx, 3600);
    grpc::Status s = workspaces_->CommitManifest(&ctx, commit, &committed);
    // A blob the agent vouched for may have turned out rewritten by a task
    // (the agent then forgets it); ask and upload again, once.
    if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION && attempt == 0) continue;
    if (!s.ok()) return FromGrpcStatus(s, "CommitManifest");
    break;
  }
  stats.files_written = committed.files_written();
  stats.files_removed = committed.files_removed();
  cache_->MarkAllSynced();
  cache_->Save().IgnoreError();
  return stats;
}

namespace {

struct PullTarget {
  const v1::ManifestEntry* entry;
  std::string final_path;
  std::string temp_path;
  std::string cache_key;  // empty when the workspace is outside the cube
};

absl::Status WriteTemp(const PullTarget& t, const std::string& data) {
  UniqueFd fd(
      open(t.temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return absl::InternalError(absl::StrCat("create ", t.temp_path, ": ", strerror(errno)));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return absl::InternalError(absl::StrCat("write ", t.temp_path, ": ", strerror(errno)));
    done += static_cast<size_t>(n);
  }
  fchmod(fd.get(), t.entry->mode() != 0 ? t.entry->mode() : 0644);
  struct timespec times[2];
  times[0].tv_nsec = UTIME_OMIT;
  times[0].tv_sec = 0;
  times[1].tv_sec = t.entry->mtime_ns() / 1000000000;
  times[1].tv_nsec = t.entry->mtime_ns() % 1000000000;
  futimens(fd.get(), times);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PullStats> SyncClient::Pull(const PullOptions& options) {
  PullStats stats;
  v1::SnapshotRequest request;
  request.set_cube_id(options.cube_id);
  for (const std::string& p : options.paths) request.add_paths(p);
  request.set_job_id(options.job_id);
  request.set_skip_missing(options.skip_missing);
  v1::SnapshotResponse snapshot;
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, 3600);
    grpc::Status s = workspaces_->Snapshot(&ctx, request, &snapshot);
    if (!s.ok()) return FromGrpcStatus(s, "Snapshot");
  }
  absl::StatusOr<std::string> bytes = ReadBlob(snapshot.manifest_digest());
  if (!bytes.ok()) return bytes.status();
  v1::Manifest manifest;
  if (!manifest.ParseFromString(*bytes)) return absl::DataLossError("snapshot manifest is corrupt");
  if (absl::Status s = ManifestValidator::Validate(manifest); !s.ok()) return s;

  std::string key_prefix;
  if (options.workspace.rfind(options.cube_root + "/", 0) == 0) {
    key_prefix = options.workspace.substr(options.cube_root.size() + 1) + "/";
  }
  // Decide per entry: unchanged, overwrite, or conflict (write NAME.remote).
  std::vector<PullTarget> targets;
  int index = 0;
  for (const v1::ManifestEntry& e : manifest.entries()) {
    ++index;
    const std::string local = absl::StrCat(options.workspace, "/", e.path());
    const std::string key = key_prefix.empty() ? "" : key_prefix + e.path();
    struct stat st;
    const bool exists = lstat(local.c_str(), &st) == 0;
    if (e.type() == v1::ENTRY_TYPE_DIRECTORY) {
      if (!options.dry_run && !(exists && S_ISDIR(st.st_mode))) {
        std::error_code ec;
        std::filesystem::create_directories(local, ec);
        if (ec) return absl::InternalError(absl::StrCat("mkdir ", local, ": ", ec.message()));
      }
      continue;
    }
    if (e.type() == v1::ENTRY_TYPE_SYMLINK) {
      if (options.dry_run) continue;
      if (exists && !S_ISLNK(st.st_mode)) {
        stats.conflicts.push_back(local);
        continue;
      }
      const std::string temp = local + ".mlcube-pull.tmp";
      unlink(temp.c_str());
      if (symlink(e.symlink_target().c_str(), temp.c_str()) != 0 ||
          rename(temp.c_str(), local.c_str()) != 0) {
        return absl::InternalError(absl::StrCat("symlink ", local, ": ", strerror(errno)));
      }
      continue;
    }
    ++stats.files_listed;
    std::string dest = local;
    if (exists && S_ISREG(st.st_mode)) {
      const auto nanos = [](const struct timespec& ts) {
        return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
      };
      const ScanCache::Record* rec = key.empty() ? nullptr
                                                 : cache_->Find(key, st.st_size, nanos(st.st_mtim),
                                                                nanos(st.st_ctim), st.st_ino);
      std::string local_hash;
      if (rec != nullptr) {
        local_hash = HexOfRaw(rec->sha256);
      } else {
        absl::StatusOr<v1Digest> d = DigestOfFile(local);
        if (!d.ok()) return d.status();
        local_hash = d->hash();
      }
      if (local_hash == e.digest().hash() && st.st_size == e.digest().size_bytes()) {
        ++stats.files_unchanged;
        if (!key.empty() && (rec == nullptr || !rec->synced)) {
          ScanCache::Record r;
          r.size = st.st_size;
          r.mtime_ns = nanos(st.st_mtim);
          r.ctime_ns = nanos(st.st_ctim);
          r.inode = st.st_ino;
          RawFromHex(local_hash, &r.sha256);
          r.synced = true;
          cache_->Put(key, r);
        }
        continue;
      }
      if (rec == nullptr || !rec->synced) {
        dest = local + ".remote";
        stats.conflicts.push_back(local);
      }
    } else if (exists) {
      dest = local + ".remote";
      stats.conflicts.push_back(local);
    }
    const std::string dir = std::filesystem::path(dest).parent_path().string();
    if (!options.dry_run) {
      // A file output's directory may be new here (the task made it).
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (ec) return absl::InternalError(absl::StrCat("mkdir ", dir, ": ", ec.message()));
    }
    targets.push_back(
        {&e, dest, absl::StrCat(dir, "/.mlcube-pull-", index, ".tmp"), dest == local ? key : ""});
  }
  if (options.dry_run) {
    stats.files_written = static_cast<int64_t>(targets.size());
    for (const PullTarget& t : targets) stats.bytes_received += t.entry->digest().size_bytes();
    return stats;
  }

  // Fetch each distinct blob once.
  absl::flat_hash_map<std::string, std::vector<const PullTarget*>> by_digest;
  std::vector<v1Digest> order;
  for (const PullTarget& t : targets) {
    auto& list = by_digest[t.entry->digest().hash()];
    if (list.empty()) order.push_back(t.entry->digest());
    list.push_back(&t);
  }
  std::vector<std::vector<v1Digest>> jobs;
  int64_t batch_bytes = 0;
  for (const v1Digest& d : order) {
    if (d.size_bytes() > kBatchThreshold) {
      jobs.push_back({d});
      continue;
    }
    if (jobs.empty() ||
        (jobs.back().size() == 1 && jobs.back()[0].size_bytes() > kBatchThreshold) ||
        batch_bytes + d.size_bytes() > kMaxPayload) {
      jobs.emplace_back();
      batch_bytes = 0;
    }
    jobs.back().push_back(d);
    batch_bytes += d.size_bytes();
  }
  int64_t total_bytes = 0;
  for (const v1Digest& d : order) total_bytes += d.size_bytes();
  ProgressReporter progress(stderr, options.interactive, "pull", static_cast<int64_t>(order.size()),
                            total_bytes);
  if (options.show_progress) progress.Start();
  std::atomic<int64_t> received{0};
  auto write_all = [&](const v1Digest& d, const std::string& data) -> absl::Status {
    if (!SameDigest(DigestOf(data), d)) {
      return absl::DataLossError(absl::StrCat("blob ", DigestKey(d), " arrived corrupted"));
    }
    for (const PullTarget* t : by_digest[d.hash()]) {
      if (absl::Status s = WriteTemp(*t, data); !s.ok()) return s;
    }
    return absl::OkStatus();
  };
  absl::Status fetch_status = RunParallel(jobs.size(), [&](size_t i) -> absl::Status {
    const std::vector<v1Digest>& job = jobs[i];
    if (job.size() == 1 && job[0].size_bytes() > kBatchThreshold) {
      absl::StatusOr<std::string> data = ReadBlob(job[0]);
      if (!data.ok()) return data.status();
      received += job[0].size_bytes();
      progress.AddBytes(job[0].size_bytes());
      progress.AddFiles(1);
      return write_all(job[0], *data);
    }
    v1::BatchReadBlobsRequest read;
    for (const v1Digest& d : job) *read.add_digests() = d;
    v1::BatchReadBlobsResponse response;
    grpc::ClientContext ctx;
    SetDeadline(&ctx, 300);
    grpc::Status s = cas_->BatchReadBlobs(&ctx, read, &response);
    if (!s.ok()) return FromGrpcStatus(s, "BatchReadBlobs");
    for (const auto& r : response.results()) {
      if (r.status().code() != 0) {
        return absl::Status(static_cast<absl::StatusCode>(r.status().code()), r.status().message());
      }
      if (absl::Status ws = write_all(r.digest(), r.data()); !ws.ok()) return ws;
      received += r.digest().size_bytes();
      progress.AddBytes(r.digest().size_bytes());
      progress.AddFiles(1);
    }
    return absl::OkStatus();
  });
  progress.Stop();
  if (!fetch_status.ok()) {
    for (const PullTarget& t : targets) unlink(t.temp_path.c_str());
    return fetch_status;
  }
  // Data durable before the renames make it visible.
  {
    UniqueFd ws(open(options.workspace.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (ws && !targets.empty()) syncfs(ws.get());
  }
  for (const PullTarget& t : targets) {
    if (rename(t.temp_path.c_str(), t.final_path.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("rename into ", t.final_path, ": ", strerror(errno)));
    }
    ++stats.files_written;
    if (t.cache_key.empty()) continue;
    struct stat st;
    if (lstat(t.final_path.c_str(), &st) != 0) continue;
    ScanCache::Record r;
    r.size = st.st_size;
    r.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    r.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
    r.inode = st.st_ino;
    RawFromHex(t.entry->digest().hash(), &r.sha256);
    r.synced = true;
    cache_->Put(t.cache_key, r);
  }
  stats.bytes_received = received;
  cache_->Save().IgnoreError();
  return stats;
}

}  // namespace mlcube
