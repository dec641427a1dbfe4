#include "controller/sync/push_operation.h"

#include <chrono>
#include <cstdlib>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/protocol_features.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

namespace {

void SetDeadline(grpc::ClientContext* ctx, int seconds) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

absl::Status PushOperation::ScanWhileListingCubes() {
  const auto start = std::chrono::steady_clock::now();
  // Ask for the agent's committed manifests while scanning: on a no-op sync
  // the connection set-up and this call overlap the walk.
  grpc::Status cubes_status;
  std::thread list_cubes([&] {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, 30);
    cubes_status = workspaces_->ListCubes(&ctx, v1::ListCubesRequest(), &cubes_);
  });
  Scanner scanner(cache_);
  ScanOptions scan_options;
  scan_options.root = options_.cube_root;
  scan_options.rules = options_.rules;
  scan_options.exclude_dirs = options_.exclude_dirs;
  absl::StatusOr<ScanResult> scan = scanner.Scan(scan_options);
  list_cubes.join();
  stats_.scan_seconds = SecondsSince(start);
  if (!scan.ok()) return scan.status();
  scan_ = std::move(*scan);
  stats_.files_scanned = scan_.files;
  stats_.bytes_scanned = scan_.bytes;
  stats_.files_hashed = scan_.files_hashed;
  stats_.warnings = scan_.warnings;
  stats_.skipped_images = scan_.skipped_images;
  scan_.manifest().SerializeToString(&manifest_bytes_);
  manifest_digest_ = DigestOf(manifest_bytes_);
  if (!cubes_status.ok()) return FromGrpcStatus(cubes_status, "ListCubes");
  UseFeatures();
  return absl::OkStatus();
}

void PushOperation::UseFeatures() {
  // options_.sync_features (a comma-separated list, "" for none) limits
  // what is used, to compare with the plain protocol.
  const std::optional<std::string>& allowed = options_.sync_features;
  for (const std::string& feature : cubes_.features()) {
    if (allowed.has_value() &&
        !absl::StrContains(absl::StrCat(",", *allowed, ","), absl::StrCat(",", feature, ","))) {
      continue;
    }
    if (feature == kFeatureChunkedFiles) agent_splices_ = true;
    if (feature == kFeatureZstd) uploader_.set_compression(&compression_);
  }
}

bool PushOperation::AgentIsUpToDate() const {
  for (const v1::CubeSummary& cube : cubes_.cubes()) {
    // After a job ran in the cube, its tasks may have written into inputs:
    // commit again so the agent restores whatever differs.
    if (cube.cube_id() == options_.cube_id && !cube.workspace_used() &&
        SameDigest(cube.committed_manifest(), manifest_digest_)) {
      return true;
    }
  }
  return false;
}

void PushOperation::AddChunked(const v1::ManifestEntry& e, const ScanCache::Record& record) {
  auto file = std::make_unique<ChunkedFile>();
  file->whole = e.digest();
  file->list_bytes = Scanner::ChunkListBytes(record);
  const std::string path = absl::StrCat(options_.cube_root, "/", e.path());
  file->list.digest = e.chunk_list();
  file->list.memory = &file->list_bytes;
  file->list.file = absl::StrCat(path, " (chunk list)");
  file->list.counts_as_file = false;
  file->whole_item.digest = e.digest();
  file->whole_item.file = path;
  int64_t offset = 0;
  file->chunks.reserve(record.chunks.size());
  for (const ScanCache::ChunkRef& chunk : record.chunks) {
    UploadItem item;
    item.digest = MakeDigest(HexOfRaw(chunk.sha256), chunk.size);
    item.file = path;
    item.offset = offset;
    item.counts_as_file = false;
    file->chunks.push_back(std::move(item));
    offset += chunk.size;
  }
  chunked_.push_back(std::move(file));
}

void PushOperation::CollectItems(bool with_synced) {
  items_.clear();
  chunked_.clear();
  // Unique blobs of this tree, plus the manifest itself. A file unchanged
  // since the last push that this agent committed is not asked about: the
  // agent has it in the cube's workspace. (If a task rewrote it there, the
  // commit fails with FAILED_PRECONDITION and the retry asks about all.)
  for (const v1::CubeSummary& cube : cubes_.cubes()) {
    if (cube.cube_id() == options_.cube_id) agent_has_cube_ = true;
  }
  absl::flat_hash_set<std::string> seen;
  for (const v1::ManifestEntry& e : scan_.manifest().entries()) {
    if (e.type() != v1::ENTRY_TYPE_FILE) continue;
    if (!seen.insert(e.digest().hash()).second) continue;
    const ScanCache::Record* record = cache_->FindAny(e.path());
    if (!with_synced && agent_has_cube_ && record != nullptr && record->synced &&
        HexOfRaw(record->sha256) == e.digest().hash()) {
      continue;
    }
    // An agent that cannot splice gets big files whole.
    if (agent_splices_ && e.has_chunk_list() && record != nullptr && !record->chunks.empty()) {
      AddChunked(e, *record);
      continue;
    }
    UploadItem item;
    item.digest = e.digest();
    item.file = absl::StrCat(options_.cube_root, "/", e.path());
    items_.push_back(std::move(item));
  }
  UploadItem manifest;
  manifest.digest = manifest_digest_;
  manifest.memory = &manifest_bytes_;
  manifest.counts_as_file = false;
  items_.push_back(std::move(manifest));
}

bool PushOperation::NoneOfItsChunksOnTheAgent(const ChunkedFile& file,
                                              const absl::flat_hash_set<std::string>& missing) {
  for (const UploadItem& chunk : file.chunks) {
    if (!missing.contains(chunk.digest.hash())) return false;
  }
  return true;
}

absl::StatusOr<PushOperation::Missing> PushOperation::MissingItems() {
  std::vector<v1Digest> ask;
  absl::flat_hash_set<std::string> asked;
  auto add = [&](const v1Digest& d) {
    if (asked.insert(d.hash()).second) ask.push_back(d);
  };
  for (size_t i = 0; i < items_.size(); ++i) {
    if (!eager_[i]) add(items_[i].digest);
  }
  // The whole file, its list and its chunks in the same request: when the
  // agent has the whole file, none of the rest is sent.
  for (const auto& file : chunked_) {
    add(file->whole);
    add(file->list.digest);
    for (const UploadItem& chunk : file->chunks) add(chunk.digest);
  }
  Missing out;
  if (ask.empty()) return out;
  absl::StatusOr<absl::flat_hash_set<std::string>> missing = uploader_.FindMissing(ask);
  if (!missing.ok()) return missing.status();
  for (size_t i = 0; i < items_.size(); ++i) {
    const UploadItem& item = items_[i];
    if (eager_[i] || !missing->contains(item.digest.hash())) continue;
    out.items.push_back(&item);
    if (!item.counts_as_file) continue;
    ++out.files;
    out.file_bytes += item.digest.size_bytes();
  }
  absl::flat_hash_set<std::string> queued;
  for (const auto& file : chunked_) {
    if (!missing->contains(file->whole.hash())) continue;
    ++out.files;
    if (missing->contains(file->list.digest.hash()) &&
        queued.insert(file->list.digest.hash()).second) {
      out.items.push_back(&file->list);
    }
    if (NoneOfItsChunksOnTheAgent(*file, *missing)) {
      if (queued.insert(file->whole.hash()).second) {
        out.items.push_back(&file->whole_item);
        out.file_bytes += file->whole.size_bytes();
      }
      continue;
    }
    for (const UploadItem& chunk : file->chunks) {
      if (!missing->contains(chunk.digest.hash()) || !queued.insert(chunk.digest.hash()).second) {
        continue;
      }
      out.items.push_back(&chunk);
      out.file_bytes += chunk.digest.size_bytes();
    }
  }
  return out;
}

std::vector<const UploadItem*> PushOperation::EagerItems(int attempt) {
  eager_.assign(items_.size(), false);
  std::vector<const UploadItem*> eager;
  // Only for a cube the agent has: what changed since its last push is
  // most likely new to the agent. A first push asks about everything, so
  // data the agent holds for another cube is not sent again.
  if (attempt > 0 || options_.dry_run || !agent_has_cube_) return eager;
  int64_t bytes = 0;
  for (size_t i = 0; i < items_.size(); ++i) {
    const int64_t size = items_[i].digest.size_bytes();
    if (size > BlobUploader::kBatchThreshold) continue;  // asked about first
    bytes += size;
    if (bytes > BlobUploader::kBatchThreshold * 4) {
      eager_.assign(items_.size(), false);
      return {};
    }
    eager_[i] = true;
    eager.push_back(&items_[i]);
  }
  return eager;
}

absl::StatusOr<int64_t> PushOperation::UploadEagerAndMissing(int attempt) {
  // The eager batch travels while FindMissingBlobs asks about the rest.
  const std::vector<const UploadItem*> eager = EagerItems(attempt);
  absl::StatusOr<int64_t> eager_sent = int64_t{0};
  std::thread eager_upload;
  if (!eager.empty()) {
    eager_upload = std::thread([&] { eager_sent = uploader_.UploadBatch(eager, nullptr); });
  }
  struct Joiner {
    std::thread* t;
    ~Joiner() {
      if (t->joinable()) t->join();
    }
  } joiner{&eager_upload};
  absl::StatusOr<Missing> missing = MissingItems();
  if (!missing.ok()) return missing.status();
  for (const UploadItem* item : eager) {
    if (!item->counts_as_file) continue;
    ++missing->files;
    missing->file_bytes += item->digest.size_bytes();
  }
  stats_.bytes_deduplicated = stats_.bytes_scanned - missing->file_bytes;
  stats_.files_sent += missing->files;
  if (options_.dry_run) return missing->file_bytes;
  int64_t upload_bytes = 0;
  for (const UploadItem* item : missing->items) upload_bytes += item->digest.size_bytes();
  ProgressReporter progress(stderr, options_.interactive, "push", missing->files, upload_bytes);
  if (options_.show_progress) progress.Start();
  absl::StatusOr<int64_t> sent = uploader_.UploadAll(missing->items, &progress);
  progress.Stop();
  if (eager_upload.joinable()) eager_upload.join();
  if (!eager_sent.ok()) return eager_sent.status();
  if (!sent.ok()) return sent.status();
  return *sent + *eager_sent;
}

absl::Status PushOperation::UploadAndCommit(int attempt, bool* retry) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<int64_t> sent = UploadEagerAndMissing(attempt);
  stats_.transfer_seconds += SecondsSince(start);
  if (options_.dry_run) {
    if (sent.ok()) stats_.bytes_sent = *sent;
    return sent.status();
  }
  if (!sent.ok()) return sent.status();
  stats_.bytes_sent += *sent;
  const auto commit_start = std::chrono::steady_clock::now();
  absl::Status committed = Commit(retry, attempt);
  stats_.commit_seconds += SecondsSince(commit_start);
  return committed;
}

absl::Status PushOperation::Commit(bool* retry, int attempt) {
  v1::CommitManifestRequest commit;
  commit.set_cube_id(options_.cube_id);
  *commit.mutable_manifest_digest() = manifest_digest_;
  commit.set_prune(options_.prune);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 3600);
  grpc::Status s = workspaces_->CommitManifest(&ctx, commit, &committed_);
  // A blob the agent vouched for may have turned out rewritten by a task
  // (the agent then forgets it); ask and upload again, once.
  if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION && attempt == 0) {
    *retry = true;
    return absl::OkStatus();
  }
  if (!s.ok()) return FromGrpcStatus(s, "CommitManifest");
  return absl::OkStatus();
}

absl::StatusOr<PushStats> PushOperation::Run() {
  if (absl::Status s = ScanWhileListingCubes(); !s.ok()) return s;
  if (AgentIsUpToDate()) {
    stats_.up_to_date = true;
    stats_.bytes_deduplicated = stats_.bytes_scanned;
    if (!options_.dry_run) cache_->MarkAllSynced();
    cache_->Save().IgnoreError();  // a cache that cannot be saved only costs time
    return stats_;
  }
  for (int attempt = 0;; ++attempt) {
    CollectItems(/*with_synced=*/attempt > 0);
    bool retry = false;
    if (absl::Status s = UploadAndCommit(attempt, &retry); !s.ok()) {
      // The scan results are valid whatever failed: kept for the next push
      // (saved once per push: the cache file holds every file's record).
      cache_->Save().IgnoreError();
      return s;
    }
    if (options_.dry_run) {
      cache_->Save().IgnoreError();
      return stats_;
    }
    if (!retry) break;
  }
  stats_.files_written = committed_.files_written();
  stats_.files_removed = committed_.files_removed();
  cache_->MarkAllSynced();
  cache_->Save().IgnoreError();
  return stats_;
}

}  // namespace mlcube
