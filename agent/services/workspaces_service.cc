#include "agent/services/workspaces_service.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/access/tree_acl.h"
#include "agent/validation/request_validator.h"
#include "common/content_chunker.h"
#include "common/directory_tree.h"
#include "common/file_util.h"
#include "common/grpc_status.h"
#include "common/manifest_validator.h"
#include "common/protocol_features.h"
#include "common/safe_path.h"
#include "common/tree_walker.h"
#include "common/unique_fd.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

namespace {

absl::StatusOr<v1::Manifest> LoadManifest(const BlobStore& store, const v1Digest& digest) {
  // Never read a blob of any size into memory (by the size its digest names).
  if (digest.size_bytes() > ManifestValidator::kMaxManifestBytes) {
    return absl::FailedPreconditionError(
        absl::StrCat("manifest blob ", DigestKey(digest), " is larger than ",
                     ManifestValidator::kMaxManifestBytes, " bytes"));
  }
  absl::StatusOr<std::string> bytes = store.Read(digest);
  if (!bytes.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("manifest blob ", DigestKey(digest), " is not in the content store"));
  }
  v1::Manifest manifest;
  if (!manifest.ParseFromString(*bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest blob ", DigestKey(digest), " does not parse as a Manifest"));
  }
  return manifest;
}

// The names in `dir` that start with `prefix`, or with anything but a dot
// when `prefix` is empty; none when it cannot be read.
std::vector<std::string> ListNames(const std::string& dir, absl::string_view prefix) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    const absl::string_view name(e->d_name);
    if (prefix.empty() ? name[0] != '.' : absl::StartsWith(name, prefix)) {
      names.emplace_back(e->d_name);
    }
  }
  closedir(d);
  return names;
}

// Adds workspace entries to `out`: a named path and, for a directory,
// everything below it (walked with TreeWalker: no recursion, bounded).
class SnapshotWalker {
 public:
  // With `splitter`, big files also get a chunk list stored for `owner`.
  SnapshotWalker(WorkspaceBlobIndex* index, const std::string& root,
                 std::map<std::string, v1::ManifestEntry>* out, const ChunkSplicer* splitter,
                 std::string owner)
      : index_(index), root_(root), out_(out), splitter_(splitter), owner_(std::move(owner)) {}

  absl::Status AddPath(int parent_fd, const std::string& name, const std::string& rel) {
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

 private:
  // An entry the agent cannot open: a task may have taken its own files'
  // permissions away from the agent.
  static absl::Status Unreadable(const std::string& rel) {
    const int error = errno;
    if (error == EACCES || error == EPERM) {
      return absl::PermissionDeniedError(absl::StrCat(
          "workspace path '", PrintableExcerpt(rel.empty() ? "." : rel),
          "' is not readable by the agent (a task changed its permissions): ", strerror(error)));
    }
    return absl::InternalError(
        absl::StrCat("open '", PrintableExcerpt(rel), "': ", strerror(error)));
  }

  static int64_t Depth(const std::string& rel) {
    return rel.empty() ? 0 : 1 + std::count(rel.begin(), rel.end(), '/');
  }

  // Adds one entry (not what is below a directory).
  absl::Status AddEntry(int parent_fd, const std::string& name, const std::string& rel,
                        const struct stat& st) {
    v1::ManifestEntry entry;
    entry.set_path(rel);
    if (S_ISREG(st.st_mode)) {
      UniqueFd fd(openat(parent_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) return Unreadable(rel);
      // Hashed in place, not copied: reads are served from the file while
      // it keeps this size and mtime (and the client verifies the digest).
      struct stat before;
      if (fstat(fd.get(), &before) != 0) return absl::InternalError("fstat");
      absl::StatusOr<v1Digest> digest = HashFile(fd.get(), before.st_size, &entry);
      if (!digest.ok()) return digest.status();
      entry.set_type(v1::ENTRY_TYPE_FILE);
      *entry.mutable_digest() = *digest;
      entry.set_mode(ManifestValidator::SafeMode(TreeAcl::ReportedMode(before.st_mode)));
      entry.set_mtime_ns(static_cast<int64_t>(before.st_mtim.tv_sec) * 1000000000 +
                         before.st_mtim.tv_nsec);
      index_->Add(*digest, absl::StrCat(root_, "/", rel), entry.mtime_ns());
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
    return absl::OkStatus();
  }

  // The file's digest; a big one is also split into stored chunks when the
  // client asked for chunk lists.
  absl::StatusOr<v1Digest> HashFile(int fd, int64_t size, v1::ManifestEntry* entry) {
    if (splitter_ == nullptr || size < ContentChunker::kChunkedFileMin) return DigestOfFd(fd);
    absl::StatusOr<ChunkSplicer::Split> split = splitter_->SplitFile(owner_, fd);
    if (!split.ok()) return split.status();
    *entry->mutable_chunk_list() = split->chunk_list;
    return split->digest;
  }

  WorkspaceBlobIndex* index_;
  std::string root_;
  std::map<std::string, v1::ManifestEntry>* out_;
  const ChunkSplicer* splitter_;
  std::string owner_;
  int64_t bytes_ = 0;
};

}  // namespace

WorkspacesService::WorkspacesService(Options options, BlobStore* store, WorkspaceBlobIndex* index,
                                     BlobAccess* access, StorageQuota* quota, CubeJobs* jobs,
                                     IdentityFn identity)
    : options_(std::move(options)),
      store_(store),
      index_(index),
      access_(access),
      quota_(quota),
      jobs_(jobs),
      identity_(std::move(identity)),
      materializer_(store, index),
      splicer_(store, access) {}

void WorkspacesService::IndexCommittedWorkspaces() {
  // What a crash left behind: trees a DeleteCube moved aside but did not
  // finish removing, and a commit's staged temp files (its commit record was
  // not written, so the next push commits again).
  const StateLayout& layout = *options_.layout;
  std::vector<std::string> aside;
  for (const std::string& owner : ListNames(layout.CubesDir(), "")) {
    const std::string owner_dir = layout.OwnerCubesDir(owner);
    for (const std::string& name : ListNames(owner_dir, StateLayout::kDeletingPrefix)) {
      aside.push_back(absl::StrCat(owner_dir, "/", name));
    }
    for (const std::string& cube : ListNames(owner_dir, "")) {
      RemoveNamedBelow(absl::StrCat(owner_dir, "/", cube), ".mlcube-sync-");
    }
  }
  // Removing a tree a task made can take minutes (a chain of 20,000
  // directories does on ext4): it runs beside the serving agent, on paths
  // nothing else uses, so start-up never waits for it. A tree that cannot be
  // removed stays (retried at the next start) with a message; it never stops
  // the agent. Detached: it touches nothing of this object.
  if (!aside.empty()) {
    std::thread([aside = std::move(aside)] {
      for (const std::string& path : aside) {
        absl::Status removed = RemoveTree(path);
        if (!removed.ok()) {
          fprintf(stderr, "mlcube-agent: left %s in place: %s\n", PrintableExcerpt(path).c_str(),
                  PrintableExcerpt(removed.message()).c_str());
        }
      }
    }).detach();
  }
  ForEachCommit([this](const std::string& owner, const v1::CubeSummary& summary) {
    absl::StatusOr<v1::Manifest> m = LoadManifest(*store_, summary.committed_manifest());
    if (!m.ok()) return;
    index_->AddManifest(CubeDir(owner, summary.cube_id()), *m);
    splicer_.RecordChunkLocations(owner, *m);
  });
}

absl::flat_hash_set<std::string> WorkspacesService::ChunksOfCommits(
    const std::string& owner) const {
  absl::flat_hash_set<std::string> chunks;
  ForEachCommit([&](const std::string& who, const v1::CubeSummary& summary) {
    if (who != owner) return;
    absl::StatusOr<v1::Manifest> m = LoadManifest(*store_, summary.committed_manifest());
    if (!m.ok()) return;
    for (const v1::ManifestEntry& e : m->entries()) {
      if (!e.has_chunk_list() || e.chunk_list().size_bytes() > ChunkSplicer::kMaxChunkListBytes) {
        continue;
      }
      absl::StatusOr<std::string> bytes = store_->Read(e.chunk_list());
      v1::ChunkList list;
      if (!bytes.ok() || !list.ParseFromString(*bytes)) continue;
      chunks.insert(e.chunk_list().hash());
      for (const v1Digest& chunk : list.chunks()) chunks.insert(chunk.hash());
    }
  });
  return chunks;
}

void WorkspacesService::ForEachCommit(
    const std::function<void(const std::string&, const v1::CubeSummary&)>& visit) const {
  const StateLayout& layout = *options_.layout;
  for (const std::string& owner : ListNames(layout.CommitsDir(), "")) {
    const std::string owner_dir = layout.OwnerCommitsDir(owner);
    for (const std::string& name : ListNames(owner_dir, "")) {
      if (!absl::EndsWith(name, StateLayout::kCommitSuffix)) continue;
      UniqueFd fd(open(absl::StrCat(owner_dir, "/", name).c_str(), O_RDONLY | O_CLOEXEC));
      v1::CubeSummary summary;
      if (fd && summary.ParseFromFileDescriptor(fd.get())) visit(owner, summary);
    }
  }
}

void WorkspacesService::MarkWorkspaceUsed(const std::string& owner, const std::string& cube_id) {
  if (!ValidateCubeId(cube_id).ok()) return;
  absl::MutexLock cube_lock(CubeMutex(absl::StrCat(owner, "/", cube_id)));
  const std::string commit_file = CommitFile(owner, cube_id);
  UniqueFd fd(open(commit_file.c_str(), O_RDONLY | O_CLOEXEC));
  v1::CubeSummary summary;
  if (!fd || !summary.ParseFromFileDescriptor(fd.get()) || summary.workspace_used()) return;
  summary.set_workspace_used(true);
  // Best effort: if this cannot be written (disk full), the next push may
  // take the no-op shortcut and a task-written input stays until a change.
  WriteFileAtomically(commit_file, summary.SerializeAsString(), 0644).IgnoreError();
}

std::string WorkspacesService::CubeDir(const std::string& owner, const std::string& cube_id) const {
  return options_.layout->CubeDir(owner, cube_id);
}

std::string WorkspacesService::CommitFile(const std::string& owner,
                                          const std::string& cube_id) const {
  return options_.layout->CommitFile(owner, cube_id);
}

absl::Mutex* WorkspacesService::CubeMutex(const std::string& key) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<absl::Mutex>& m = cube_mutexes_[key];
  if (!m) m = std::make_unique<absl::Mutex>();
  return m.get();
}

absl::StatusOr<v1::Manifest> WorkspacesService::ReadRequestedManifest(
    const std::string& owner, const v1::CommitManifestRequest& request) {
  // Only a manifest the caller uploaded (or snapshotted) itself.
  absl::StatusOr<std::string> bytes = access_->ReadSmall(owner, request.manifest_digest());
  if (!bytes.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "manifest blob ", DigestKey(request.manifest_digest()), " is not in the content store"));
  }
  v1::Manifest parsed;
  if (!parsed.ParseFromString(*bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "manifest blob ", DigestKey(request.manifest_digest()), " does not parse as a Manifest"));
  }
  if (absl::Status s = ManifestValidator::Validate(parsed); !s.ok()) return s;
  return parsed;
}

std::unique_ptr<v1::Manifest> WorkspacesService::PreviousCommit(const std::string& commit_file) {
  UniqueFd fd(open(commit_file.c_str(), O_RDONLY | O_CLOEXEC));
  v1::CubeSummary summary;
  if (!fd || !summary.ParseFromFileDescriptor(fd.get())) return nullptr;
  absl::StatusOr<v1::Manifest> old = LoadManifest(*store_, summary.committed_manifest());
  if (!old.ok()) return nullptr;
  return std::make_unique<v1::Manifest>(std::move(*old));
}

absl::Status WorkspacesService::RecordCommit(const std::string& owner,
                                             const v1::CommitManifestRequest& request) {
  v1::CubeSummary summary;
  summary.set_cube_id(request.cube_id());
  *summary.mutable_committed_manifest() = request.manifest_digest();
  summary.set_committed_unix_ms(NowUnixMs());
  if (absl::Status s = MakeDirs(options_.layout->OwnerCommitsDir(owner)); !s.ok()) return s;
  if (absl::Status s = WriteFileAtomically(CommitFile(owner, request.cube_id()),
                                           summary.SerializeAsString(), 0644);
      !s.ok()) {
    return s;
  }
  store_->Touch(request.manifest_digest());
  return absl::OkStatus();
}

grpc::Status WorkspacesService::CommitManifest(grpc::ServerContext* context,
                                               const v1::CommitManifestRequest* request,
                                               v1::CommitManifestResponse* response) {
  absl::StatusOr<std::string> owner = identity_(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  // Also bounds the manifest's size (kMaxManifestBytes) before it is read.
  if (absl::Status s = ValidateCommitManifestRequest(*request); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<v1::Manifest> next = ReadRequestedManifest(*owner, *request);
  if (!next.ok()) return ToGrpcStatus(next.status());
  if (!request->dry_run()) {
    int64_t cube_bytes = 0;
    for (const v1::ManifestEntry& e : next->entries()) {
      if (e.type() == v1::ENTRY_TYPE_FILE) cube_bytes += e.digest().size_bytes();
    }
    absl::Status room = quota_->CheckCommit(*owner, request->cube_id(), cube_bytes);
    if (!room.ok()) return ToGrpcStatus(room);
    // Big files sent as chunks become whole blobs before anything changes.
    if (absl::Status s = splicer_.SpliceMissing(*owner, *next); !s.ok()) return ToGrpcStatus(s);
  }

  absl::MutexLock cube_lock(CubeMutex(absl::StrCat(*owner, "/", request->cube_id())));
  // The previous commit, when its manifest is still readable.
  const std::string commit_file = CommitFile(*owner, request->cube_id());
  std::unique_ptr<v1::Manifest> previous = PreviousCommit(commit_file);
  // New cube trees inherit the owner directory's access list (TreeAcl):
  // nobody but the agent until a job adds the identity's task uid.
  if (!request->dry_run()) {
    const uid_t agent = geteuid();
    if (absl::Status s =
            TreeAcl(agent, agent).ApplyToDirectory(options_.layout->OwnerCubesDir(*owner));
        !s.ok()) {
      return ToGrpcStatus(s);
    }
  }
  absl::StatusOr<WorkspaceMaterializer::Result> result = materializer_.Apply(
      CubeDir(*owner, request->cube_id()), previous.get(), *next, request->prune(),
      request->dry_run(), [&](const v1Digest& d) { return access_->Visible(*owner, d); });
  quota_->Invalidate(*owner);
  if (!result.ok()) return ToGrpcStatus(result.status());
  response->set_files_written(result->files_written);
  response->set_files_removed(result->files_removed);
  response->set_bytes_written(result->bytes_written);
  response->set_files_unchanged(result->files_unchanged);
  if (request->dry_run()) return grpc::Status::OK;

  if (absl::Status s = RecordCommit(*owner, *request); !s.ok()) return ToGrpcStatus(s);
  fprintf(stderr,
          "mlcube-agent: commit %s/%s: %lld written (%lld bytes), %lld unchanged, %lld removed; "
          "stage %.3fs sync %.3fs place %.3fs\n",
          owner->c_str(), request->cube_id().c_str(), static_cast<long long>(result->files_written),
          static_cast<long long>(result->bytes_written),
          static_cast<long long>(result->files_unchanged),
          static_cast<long long>(result->files_removed), result->stage_seconds,
          result->sync_seconds, result->place_seconds);
  *response->mutable_committed_manifest() = request->manifest_digest();
  splicer_.RecordChunkLocations(*owner, *next);
  MaybeCollectGarbage();
  return grpc::Status::OK;
}

absl::StatusOr<std::vector<std::string>> WorkspacesService::SnapshotPaths(
    const std::string& owner, const v1::SnapshotRequest& request) {
  std::vector<std::string> paths(request.paths().begin(), request.paths().end());
  if (request.job_id().empty()) return paths;
  // The outputs of the job's tasks, as the cube declares them.
  if (jobs_ == nullptr) return absl::UnimplementedError("this agent runs no jobs");
  absl::StatusOr<CubeJobs::Outputs> outputs = jobs_->OutputsOf(owner, request.job_id());
  if (!outputs.ok()) return outputs.status();
  if (outputs->cube_id != request.cube_id()) {
    return absl::InvalidArgumentError(absl::StrCat("job ", request.job_id(), " ran cube '",
                                                   outputs->cube_id, "', not '", request.cube_id(),
                                                   "'"));
  }
  paths.insert(paths.end(), outputs->paths.begin(), outputs->paths.end());
  if (paths.empty()) {
    return absl::NotFoundError(
        absl::StrCat("job ", request.job_id(), " has no outputs in the workspace"));
  }
  return paths;
}

absl::Status WorkspacesService::StoreSnapshot(const std::string& owner,
                                              std::map<std::string, v1::ManifestEntry>* entries,
                                              v1::SnapshotResponse* response) {
  v1::Manifest manifest;
  int64_t files = 0, bytes = 0;
  for (auto& [path, entry] : *entries) {
    if (entry.type() == v1::ENTRY_TYPE_FILE) {
      ++files;
      bytes += entry.digest().size_bytes();
    }
    *manifest.add_entries() = std::move(entry);
  }
  const std::string serialized = manifest.SerializeAsString();
  const v1Digest digest = DigestOf(serialized);
  if (absl::Status s = store_->Put(digest, serialized); !s.ok()) return s;
  access_->Grant(owner, digest);  // the caller reads it next
  *response->mutable_manifest_digest() = digest;
  response->set_file_count(files);
  response->set_total_bytes(bytes);
  return absl::OkStatus();
}

grpc::Status WorkspacesService::Snapshot(grpc::ServerContext* context,
                                         const v1::SnapshotRequest* request,
                                         v1::SnapshotResponse* response) {
  absl::StatusOr<std::string> owner = identity_(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  if (absl::Status s = ValidateSnapshotRequest(*request); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<std::vector<std::string>> paths = SnapshotPaths(*owner, *request);
  if (!paths.ok()) return ToGrpcStatus(paths.status());
  const std::string workspace = CubeDir(*owner, request->cube_id()) + "/workspace";
  UniqueFd root(open(workspace.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root) {
    return grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("cube '", request->cube_id(), "' has no workspace on this agent"));
  }
  std::map<std::string, v1::ManifestEntry> entries;
  SnapshotWalker walker(index_, workspace, &entries,
                        request->chunk_big_files() ? &splicer_ : nullptr, *owner);
  if (paths->empty()) paths->push_back("");
  for (const std::string& path : *paths) {
    if (!path.empty()) {
      if (absl::Status s = ValidateRelativePath(path); !s.ok()) return ToGrpcStatus(s);
    }
    // Walk to the parent without following symlinks.
    std::vector<std::string> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
    UniqueFd parent(dup(root.get()));
    std::string name = ".";
    bool missing = false;
    for (size_t i = 0; i + 1 < parts.size() && !missing; ++i) {
      int fd =
          openat(parent.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) {
        missing = true;
      } else {
        parent.Reset(fd);
      }
    }
    if (!parts.empty()) name = parts.back();
    const bool tolerate_missing = !request->job_id().empty() || request->skip_missing();
    if (missing) {
      if (tolerate_missing) continue;  // an output its task never wrote
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("workspace path '", path, "' not found"));
    }
    absl::Status s = walker.AddPath(parent.get(), name, path);
    // A job's output that its task never wrote is simply not there.
    if (s.code() == absl::StatusCode::kNotFound && tolerate_missing) continue;
    if (!s.ok()) return ToGrpcStatus(s);
  }
  return ToGrpcStatus(StoreSnapshot(*owner, &entries, response));
}

grpc::Status WorkspacesService::ListCubes(grpc::ServerContext* context,
                                          const v1::ListCubesRequest* request,
                                          v1::ListCubesResponse* response) {
  absl::StatusOr<std::string> owner = identity_(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  response->add_features(kFeatureChunkedFiles);
  response->add_features(kFeatureZstd);
  const std::string dir = options_.layout->OwnerCommitsDir(*owner);
  std::vector<std::string> names = ListNames(dir, "");  // none yet: no cubes
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (!absl::EndsWith(name, ".commit")) continue;
    UniqueFd fd(open(absl::StrCat(dir, "/", name).c_str(), O_RDONLY | O_CLOEXEC));
    v1::CubeSummary summary;
    if (fd && summary.ParseFromFileDescriptor(fd.get())) *response->add_cubes() = summary;
  }
  return grpc::Status::OK;
}

grpc::Status WorkspacesService::DeleteCube(grpc::ServerContext* context,
                                           const v1::DeleteCubeRequest* request,
                                           v1::DeleteCubeResponse* response) {
  absl::StatusOr<std::string> owner = identity_(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  if (absl::Status s = ValidateDeleteCubeRequest(*request); !s.ok()) return ToGrpcStatus(s);
  const std::string& cube_id = request->cube_id();
  if (jobs_ != nullptr) {
    std::vector<std::string> active = jobs_->UnfinishedJobsOf(*owner, cube_id);
    if (!active.empty()) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("job ", active.front(), " of cube '", cube_id,
                                       "' has not finished; cancel it first"));
    }
  }
  absl::MutexLock cube_lock(CubeMutex(absl::StrCat(*owner, "/", cube_id)));
  const std::string dir = CubeDir(*owner, cube_id);
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("cube '", cube_id, "' is not on this agent"));
  }
  if (unlink(CommitFile(*owner, cube_id).c_str()) != 0 && errno != ENOENT) {
    return ToGrpcStatus(WriteErrorStatus(errno, "forgetting the commit"));
  }
  const std::string aside = options_.layout->DeletingCubeDir(*owner, cube_id, NowUnixMs());
  if (rename(dir.c_str(), aside.c_str()) != 0) {
    return ToGrpcStatus(WriteErrorStatus(errno, absl::StrCat("moving ", cube_id, " aside")));
  }
  absl::StatusOr<int64_t> bytes = TreeBytes(aside);
  response->set_bytes_freed(bytes.ok() ? *bytes : 0);
  absl::Status removed = RemoveTree(aside);
  quota_->Invalidate(*owner);
  fprintf(stderr, "mlcube-agent: deleted %s/%s (%lld bytes)%s\n", owner->c_str(), cube_id.c_str(),
          static_cast<long long>(response->bytes_freed()), removed.ok() ? "" : ", not all removed");
  return ToGrpcStatus(removed);
}

void WorkspacesService::MaybeCollectGarbage() {
  if (options_.blob_cache_bytes <= 0) return;
  {
    absl::MutexLock lock(&mu_);
    const int64_t now = static_cast<int64_t>(time(nullptr));
    if (last_gc_ != 0 && now - last_gc_ < options_.gc_interval_seconds) return;
    last_gc_ = now;
  }
  CollectGarbage().IgnoreError();
}

absl::Status WorkspacesService::CollectGarbage() {
  // Referenced: every committed manifest of every owner and what it names.
  absl::flat_hash_set<std::string> referenced;
  ForEachCommit([&](const std::string&, const v1::CubeSummary& summary) {
    referenced.insert(summary.committed_manifest().hash());
    absl::StatusOr<v1::Manifest> m = LoadManifest(*store_, summary.committed_manifest());
    if (!m.ok()) return;
    for (const v1::ManifestEntry& e : m->entries()) {
      if (e.type() != v1::ENTRY_TYPE_FILE) continue;
      referenced.insert(e.digest().hash());
      // The list, not its chunks: those age out of the cache by LRU (the
      // next change of the file then sends more of it again).
      if (e.has_chunk_list()) referenced.insert(e.chunk_list().hash());
    }
  });
  absl::StatusOr<BlobStore::GcResult> r =
      store_->CollectGarbage(options_.blob_cache_bytes, referenced, options_.gc_min_age_seconds);
  return r.status();
}

}  // namespace mlcube
