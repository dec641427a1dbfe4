#include "agent/workspaces/workspace_materializer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/access/tree_acl.h"
#include "agent/log/log.h"
#include "common/directory_tree.h"
#include "common/file_util.h"
#include "common/manifest_validator.h"
#include "common/safe_path.h"
#include "common/unique_fd.h"

namespace mlcube {

namespace {

using ::mlcube_remote::v1::ENTRY_TYPE_DIRECTORY;
using ::mlcube_remote::v1::ENTRY_TYPE_FILE;
using ::mlcube_remote::v1::ENTRY_TYPE_SYMLINK;
using ::mlcube_remote::v1::Manifest;
using ::mlcube_remote::v1::ManifestEntry;

constexpr char kWorkspaceDir[] = "workspace";
constexpr char kWorkspacePrefix[] = "workspace/";

// What a manifest's mode becomes on disk: no setuid/setgid/sticky; in the
// workspace (what tasks mount) no other bits either (TreeAcl: the group bits
// are what the task uid gets). The cube's other files (mlcube.yaml, recipes,
// build contexts) keep the laptop's mode: a build copies them into the image
// with it.
bool InWorkspace(const ManifestEntry& entry) {
  return entry.path() == kWorkspaceDir || absl::StartsWith(entry.path(), kWorkspacePrefix);
}

mode_t DiskMode(const ManifestEntry& entry) {
  const mode_t mode = ManifestValidator::SafeMode(entry.mode());
  return InWorkspace(entry) ? TreeAcl::DiskMode(mode) : mode;
}

// The mode a push leaves on an entry already on disk with `existing`:
// DiskMode, keeping in the workspace what a task was let write
// (TreeAcl::KeepingTaskGrant), so a push never changes what a running job
// of the cube may write.
mode_t ModeKeepingTaskGrant(const ManifestEntry& entry, mode_t existing) {
  return InWorkspace(entry) ? TreeAcl::KeepingTaskGrant(DiskMode(entry), existing)
                            : DiskMode(entry);
}

std::pair<absl::string_view, absl::string_view> SplitParent(absl::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos) return {absl::string_view(), path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

// Walks to directories below a root with O_NOFOLLOW at every component,
// keeping the fds of the current path open (entries arrive sorted, so
// consecutive entries mostly share their parent).
class DirWalker {
 public:
  explicit DirWalker(int root_fd) : root_fd_(root_fd) {}

  // Returns an fd for `rel` ("" is the root), or -1 when it does not exist as
  // a real directory and `create` is false. With `create`, missing
  // directories are made (and recorded in `created`), and a file or symlink
  // in the way is removed.
  absl::StatusOr<int> Open(absl::string_view rel, bool create, std::vector<std::string>* created) {
    std::vector<absl::string_view> parts;
    if (!rel.empty()) parts = absl::StrSplit(rel, '/');
    size_t common = 0;
    while (common < parts.size() && common < stack_.size() &&
           stack_[common].first == parts[common]) {
      ++common;
    }
    stack_.resize(common);
    for (size_t i = common; i < parts.size(); ++i) {
      const int parent = stack_.empty() ? root_fd_ : stack_.back().second.get();
      const std::string name(parts[i].data(), parts[i].size());
      int fd = openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && create) {
        if (errno == ENOTDIR || errno == ELOOP) unlinkat(parent, name.c_str(), 0);
        if (mkdirat(parent, name.c_str(), 0755) != 0 && errno != EEXIST) {
          return WriteErrorStatus(errno,
                                  absl::StrCat("creating directory ", PrintableExcerpt(rel)));
        }
        if (created != nullptr) {
          std::string full;
          for (size_t j = 0; j <= i; ++j) absl::StrAppend(&full, j ? "/" : "", parts[j]);
          created->push_back(std::move(full));
        }
        fd = openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      }
      if (fd < 0) {
        if (!create) return -1;
        return absl::InternalError(
            absl::StrCat("opening directory ", PrintableExcerpt(rel), ": ", strerror(errno)));
      }
      stack_.emplace_back(name, UniqueFd(fd));
    }
    return stack_.empty() ? root_fd_ : stack_.back().second.get();
  }

 private:
  int root_fd_;
  std::vector<std::pair<std::string, UniqueFd>> stack_;
};

struct Staged {
  const ManifestEntry* entry;
  std::string temp_name;
  bool moved_from_store = false;  // rollback moves it back
  bool in_place = false;          // already under its final name
};

struct PendingWrite {
  const ManifestEntry* entry;
  int index;
};

// Commits with at least this many files to write are staged on two threads.
constexpr size_t kParallelStagingMin = 256;

// Sets a staged file's mtime to the manifest's: by `fd` when open, else by
// `name` in `dfd`.
void SetMtime(int dfd, const std::string& name, int fd, int64_t mtime_ns) {
  const std::array<struct timespec, 2> times = MtimeOnlyTimes(mtime_ns);
  if (fd >= 0) {
    futimens(fd, times.data());
  } else {
    utimensat(dfd, name.c_str(), times.data(), AT_SYMLINK_NOFOLLOW);
  }
}

// Copies the entry's content into `out`: from its blob in the store, else
// from a workspace file that holds it (WorkspaceBlobIndex).
absl::Status CopyContent(const BlobStore& store, WorkspaceBlobIndex* index,
                         absl::string_view sealed_under, const ManifestEntry& entry, int out) {
  absl::Status s;
  UniqueFd in(open(store.PathOf(entry.digest()).c_str(), O_RDONLY | O_CLOEXEC));
  if (in) {
    s = CopyFileRange(in.get(), 0, out, 0, entry.digest().size_bytes(),
                      PrintableExcerpt(entry.path()));
  } else if (index != nullptr) {
    s = index->CopyVerified(entry.digest(), out, sealed_under);
  } else {
    s = absl::FailedPreconditionError(
        absl::StrCat("blob for '", PrintableExcerpt(entry.path()), "' vanished"));
  }
  if (s.code() == absl::StatusCode::kNotFound) {
    return absl::FailedPreconditionError(absl::StrCat("blob ", DigestKey(entry.digest()), " for '",
                                                      PrintableExcerpt(entry.path()),
                                                      "' is not in the store"));
  }
  return s;
}

// Writes a copy of the entry's content as `name` in `dfd`. A new path
// (`in_place`) gets an unnamed file linked in under its final name once it
// is complete: one directory operation, and nobody ever sees it partial. A
// staging name is created (replacing a stale one from a crash) and renamed
// later. Recorded in `staged` before anything can fail.
absl::Status StageCopy(const BlobStore& store, WorkspaceBlobIndex* index,
                       absl::string_view sealed_under, const ManifestEntry& entry, int dfd,
                       const std::string& name, bool in_place, std::vector<Staged>* staged) {
  UniqueFd out;
  if (in_place) out.Reset(openat(dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600));
  const bool unnamed = static_cast<bool>(out);
  if (!unnamed) {
    in_place = false;
    unlinkat(dfd, name.c_str(), 0);
    out.Reset(
        openat(dfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) {
      return WriteErrorStatus(
          errno, absl::StrCat("creating a temp file for ", PrintableExcerpt(entry.path())));
    }
    staged->push_back({&entry, name, false, false});
  }
  if (absl::Status s = CopyContent(store, index, sealed_under, entry, out.get()); !s.ok()) return s;
  fchmod(out.get(), DiskMode(entry));
  SetMtime(dfd, name, out.get(), entry.mtime_ns());
  if (!unnamed) return absl::OkStatus();
  const std::string self = absl::StrCat("/proc/self/fd/", out.get());
  if (linkat(AT_FDCWD, self.c_str(), dfd, name.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    return WriteErrorStatus(errno, absl::StrCat("placing ", PrintableExcerpt(entry.path())));
  }
  staged->push_back({&entry, name, false, true});
  return absl::OkStatus();
}

// The default ACL of the directory the last moved blob went into: the
// files of a directory are staged one after the other.
class ParentAcl {
 public:
  const InheritableAcl& Of(absl::string_view parent, int dfd) {
    if (acl_ == nullptr || parent != parent_) {
      parent_.assign(parent.data(), parent.size());
      acl_ = std::make_unique<InheritableAcl>(dfd);
    }
    return *acl_;
  }

 private:
  std::string parent_;
  std::unique_ptr<InheritableAcl> acl_;
};

// Stages one file of a commit under a temp name in its directory (or its
// final name when nothing is there yet): moved out of the store when
// `may_move`, else copied (verified when it comes from a workspace file
// that is not sealed under `sealed_under`).
// What it creates is recorded in `staged` for placing or rolling back.
absl::Status StageWrite(const BlobStore& store, WorkspaceBlobIndex* index,
                        absl::string_view sealed_under, const ManifestEntry& entry, int entry_index,
                        bool may_move, DirWalker* stager, ParentAcl* parent_acl,
                        std::vector<Staged>* staged) {
  auto [parent, name_view] = SplitParent(entry.path());
  absl::StatusOr<int> opened = stager->Open(parent, false, nullptr);
  if (!opened.ok() || *opened < 0) {
    return absl::InternalError(
        absl::StrCat("directory of ", PrintableExcerpt(entry.path()), " vanished"));
  }
  const int dfd = *opened;
  const std::string name(name_view.data(), name_view.size());
  // A stale temp name (from a crash) is replaced by the rename below, or
  // removed before the copy creates it.
  const std::string staging_name = absl::StrCat(".mlcube-sync-", entry_index, ".tmp");
  const std::string blob_path = store.PathOf(entry.digest());
  // A new path needs no staging name: the blob is complete and verified,
  // and a rollback moves it back.
  struct stat target_stat;
  const bool target_exists = fstatat(dfd, name.c_str(), &target_stat, AT_SYMLINK_NOFOLLOW) == 0;
  const std::string& moved_name = target_exists ? staging_name : name;
  if (may_move && store.Has(entry.digest()) &&
      renameat(AT_FDCWD, blob_path.c_str(), dfd, moved_name.c_str()) == 0) {
    staged->push_back({&entry, moved_name, true, !target_exists});
    // A moved blob did not inherit the directory's access list.
    LogIfError(absl::StrCat("access list of ", PrintableExcerpt(entry.path())),
               parent_acl->Of(parent, dfd).GiveTo(dfd, moved_name, DiskMode(entry)));
    SetMtime(dfd, moved_name, -1, entry.mtime_ns());
    return absl::OkStatus();
  }
  return StageCopy(store, index, sealed_under, entry, dfd, target_exists ? staging_name : name,
                   !target_exists, staged);
}

// Whether a commit writes `next` as it wrote `previous`: same type, mode and
// content (digest and mtime, or symlink target).
bool SameOnDisk(const ManifestEntry& previous, const ManifestEntry& next) {
  if (previous.type() != next.type() || previous.mode() != next.mode()) return false;
  switch (next.type()) {
    case ENTRY_TYPE_FILE:
      return SameDigest(previous.digest(), next.digest()) && previous.mtime_ns() == next.mtime_ns();
    case ENTRY_TYPE_SYMLINK:
      return previous.symlink_target() == next.symlink_target();
    default:
      return true;
  }
}

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// One Apply: the plan, what has been staged so far, and how to undo it.
class MaterializeRun {
 public:
  using Result = WorkspaceMaterializer::Result;

  MaterializeRun(BlobStore* store, WorkspaceBlobIndex* index, const std::string& root,
                 const Manifest* previous, const Manifest& next, bool dry_run,
                 const WorkspaceMaterializer::BlobFilter& may_use,
                 WorkspaceMaterializer::PreviousOnDisk previous_on_disk)
      : store_(store),
        index_(index),
        root_(root),
        previous_(previous),
        next_(next),
        dry_run_(dry_run),
        may_use_(may_use),
        previous_on_disk_(previous_on_disk) {}

  // Opens the root, creating it (and its parents) unless a dry run.
  absl::Status OpenRoot();
  // Phase 1a: directories and symlinks are made, file writes planned.
  absl::Status Plan();
  // Phase 1b: the planned file writes are staged.
  absl::Status StageWrites();
  // Removes everything staged and every directory made.
  void Rollback();
  // Phase 3: staged entries renamed into place; the index learns them.
  absl::Status Place();
  // After Place: the written files, sealed, into the blob index.
  void IndexWritten();
  // Files the previous manifest listed and `next_` does not, removed
  // deepest first (a directory that still holds task outputs stays).
  void Prune(std::vector<const ManifestEntry*> removals);
  // Directory modes last, so a read-only directory does not block renames.
  void ApplyDirectoryModes();

  int root_fd() const { return root_fd_.get(); }
  bool staged_anything() const { return !staged_.empty(); }
  Result& result() { return result_; }

 private:
  absl::Status PlanEntry(const ManifestEntry& entry, int index, DirWalker* walker,
                         const absl::flat_hash_map<absl::string_view, const ManifestEntry*>& old);
  absl::Status PlanSymlink(const ManifestEntry& entry, int index, int dfd, const std::string& name,
                           const struct stat* existing);
  absl::Status PlanFile(const ManifestEntry& entry, int index, int dfd, const std::string& name,
                        const struct stat* existing, const ManifestEntry* old);
  absl::Status StageOnThreads(size_t threads);

  BlobStore* store_;
  WorkspaceBlobIndex* index_;
  const std::string& root_;
  const Manifest* previous_;
  const Manifest& next_;
  const bool dry_run_;
  const WorkspaceMaterializer::BlobFilter& may_use_;
  const WorkspaceMaterializer::PreviousOnDisk previous_on_disk_;
  UniqueFd root_fd_;
  Result result_;
  std::vector<Staged> staged_;
  std::vector<std::string> created_dirs_;
  std::vector<PendingWrite> writes_;
};

absl::Status MaterializeRun::OpenRoot() {
  root_fd_.Reset(open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (root_fd_ || dry_run_) return absl::OkStatus();
  // Create the root and its parents (the owner's dir on first use).
  if (absl::Status made = MakeDirs(root_); !made.ok()) return made;
  root_fd_.Reset(open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root_fd_) {
    return absl::InternalError(absl::StrCat("opening ", root_, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

void MaterializeRun::Rollback() {
  DirWalker undo(root_fd_.get());
  for (const Staged& s : staged_) {
    auto [parent, name] = SplitParent(s.entry->path());
    absl::StatusOr<int> dfd = undo.Open(parent, false, nullptr);
    if (!dfd.ok() || *dfd < 0) continue;
    if (s.moved_from_store) {
      renameat(*dfd, s.temp_name.c_str(), AT_FDCWD, store_->PathOf(s.entry->digest()).c_str());
      fchmodat(AT_FDCWD, store_->PathOf(s.entry->digest()).c_str(), 0400, 0);
    } else {
      unlinkat(*dfd, s.temp_name.c_str(), 0);
    }
  }
  for (auto it = created_dirs_.rbegin(); it != created_dirs_.rend(); ++it) {
    unlinkat(root_fd_.get(), it->c_str(), AT_REMOVEDIR);
  }
}

absl::Status MaterializeRun::Plan() {
  absl::flat_hash_map<absl::string_view, const ManifestEntry*> old_entries;
  if (previous_ != nullptr) {
    old_entries.reserve(previous_->entries_size());
    for (const ManifestEntry& e : previous_->entries()) old_entries.emplace(e.path(), &e);
  }
  DirWalker walker(root_fd_.get());
  int index = 0;
  for (const ManifestEntry& entry : next_.entries()) {
    if (absl::Status s = PlanEntry(entry, ++index, &walker, old_entries); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status MaterializeRun::PlanEntry(
    const ManifestEntry& entry, int index, DirWalker* walker,
    const absl::flat_hash_map<absl::string_view, const ManifestEntry*>& old_entries) {
  auto old_it = old_entries.find(entry.path());
  const ManifestEntry* old = old_it == old_entries.end() ? nullptr : old_it->second;
  if (old != nullptr && previous_on_disk_ == WorkspaceMaterializer::PreviousOnDisk::kAsCommitted &&
      SameOnDisk(*old, entry)) {
    if (entry.type() != ENTRY_TYPE_DIRECTORY) ++result_.files_unchanged;
    return absl::OkStatus();
  }
  auto [parent, name_view] = SplitParent(entry.path());
  const std::string name(name_view.data(), name_view.size());
  int dfd = -1;
  if (root_fd_) {
    absl::StatusOr<int> opened = walker->Open(parent, !dry_run_, &created_dirs_);
    if (!opened.ok()) return opened.status();
    dfd = *opened;
  }
  struct stat st;
  const bool exists = dfd >= 0 && fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (entry.type() == ENTRY_TYPE_DIRECTORY) {
    if (dry_run_ || (exists && S_ISDIR(st.st_mode))) return absl::OkStatus();
    // Creating it now lets children be staged inside it.
    return walker->Open(entry.path(), true, &created_dirs_).status();
  }
  if (entry.type() == ENTRY_TYPE_SYMLINK) {
    return PlanSymlink(entry, index, dfd, name, exists ? &st : nullptr);
  }
  return PlanFile(entry, index, dfd, name, exists ? &st : nullptr, old);
}

absl::Status MaterializeRun::PlanSymlink(const ManifestEntry& entry, int index, int dfd,
                                         const std::string& name, const struct stat* existing) {
  if (existing != nullptr && S_ISLNK(existing->st_mode)) {
    std::string target(static_cast<size_t>(existing->st_size) + 1, '\0');
    ssize_t n = readlinkat(dfd, name.c_str(), target.data(), target.size());
    if (n >= 0 && static_cast<size_t>(n) < target.size()) {
      target.resize(static_cast<size_t>(n));
      if (target == entry.symlink_target()) {
        ++result_.files_unchanged;
        return absl::OkStatus();
      }
    }
  }
  ++result_.files_written;
  if (dry_run_) return absl::OkStatus();
  std::string temp = absl::StrCat(".mlcube-sync-", index, ".tmp");
  unlinkat(dfd, temp.c_str(), 0);
  if (symlinkat(entry.symlink_target().c_str(), dfd, temp.c_str()) != 0) {
    return WriteErrorStatus(errno,
                            absl::StrCat("creating symlink ", PrintableExcerpt(entry.path())));
  }
  staged_.push_back({&entry, std::move(temp)});
  return absl::OkStatus();
}

absl::Status MaterializeRun::PlanFile(const ManifestEntry& entry, int index, int dfd,
                                      const std::string& name, const struct stat* existing,
                                      const ManifestEntry* old) {
  const int64_t size = entry.digest().size_bytes();
  if (existing != nullptr && S_ISREG(existing->st_mode) && existing->st_size == size &&
      old != nullptr && old->type() == ENTRY_TYPE_FILE &&
      SameDigest(old->digest(), entry.digest()) &&
      TimespecNs(existing->st_mtim) == entry.mtime_ns()) {
    const mode_t mode = ModeKeepingTaskGrant(entry, existing->st_mode);
    if (!dry_run_ && (existing->st_mode & 07777) != mode) {
      fchmodat(dfd, name.c_str(), mode, 0);
    }
    ++result_.files_unchanged;
    return absl::OkStatus();
  }
  ++result_.files_written;
  result_.bytes_written += size;
  const bool present = may_use_ ? may_use_(entry.digest())
                                : store_->Has(entry.digest()) ||
                                      (index_ != nullptr && index_->Has(entry.digest(), ""));
  if (!present) {
    if (dry_run_) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat("blob ", DigestKey(entry.digest()), " for '",
                                                      PrintableExcerpt(entry.path()),
                                                      "' is not in the store"));
  }
  if (!dry_run_) writes_.push_back({&entry, index});
  return absl::OkStatus();
}

// The last use of a blob in this commit moves it out of the store (a rename:
// no second copy of the data is written); earlier uses copy it. A blob the
// store no longer holds is copied, verified, from a workspace file that has
// it (WorkspaceBlobIndex). A large commit is staged on two threads, each
// taking one contiguous half (so directories stay together); a blob used in
// both halves is copied by each and stays in the store, so one half never
// moves away what the other still reads.
absl::Status MaterializeRun::StageWrites() {
  return StageOnThreads(writes_.size() >= kParallelStagingMin ? 2 : 1);
}

absl::Status MaterializeRun::StageOnThreads(size_t threads) {
  const size_t half = (writes_.size() + 1) / 2;
  absl::flat_hash_map<std::string, size_t> last_write;  // blob hash -> index in `writes_`
  absl::flat_hash_map<std::string, int> halves_using;   // blob hash -> bit per half
  for (size_t i = 0; i < writes_.size(); ++i) {
    const std::string& hash = writes_[i].entry->digest().hash();
    last_write[hash] = i;
    halves_using[hash] |= threads == 2 && i >= half ? 2 : 1;
  }
  auto may_move = [&](size_t i) {
    const std::string& hash = writes_[i].entry->digest().hash();
    return last_write.at(hash) == i && halves_using.at(hash) != 3;
  };
  // The committing identity's own cubes (root_ is OWNER_DIR/CUBE_ID).
  const absl::string_view sealed_under = absl::string_view(root_).substr(0, root_.rfind('/') + 1);
  std::vector<std::vector<Staged>> staged_by(threads);
  std::vector<absl::Status> status_by(threads);
  auto stage_range = [&](size_t t, size_t begin, size_t end) {
    DirWalker stager(root_fd_.get());
    ParentAcl parent_acl;
    for (size_t i = begin; i < end && status_by[t].ok(); ++i) {
      status_by[t] = StageWrite(*store_, index_, sealed_under, *writes_[i].entry, writes_[i].index,
                                may_move(i), &stager, &parent_acl, &staged_by[t]);
    }
  };
  if (threads == 2) {
    std::thread second;
    try {
      second = std::thread(stage_range, 1, half, writes_.size());
    } catch (const std::system_error&) {
      // Out of threads (this runs inside a gRPC handler): this thread
      // stages the second half too, after the first.
    }
    stage_range(0, 0, half);
    if (second.joinable()) {
      second.join();
    } else {
      stage_range(1, half, writes_.size());
    }
  } else {
    stage_range(0, 0, writes_.size());
  }
  for (std::vector<Staged>& part : staged_by) {
    for (Staged& one : part) staged_.push_back(std::move(one));
  }
  for (const absl::Status& s : status_by) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status MaterializeRun::Place() {
  DirWalker placer(root_fd_.get());
  for (const Staged& s : staged_) {
    if (s.in_place) continue;
    auto [parent, name_view] = SplitParent(s.entry->path());
    const std::string name(name_view.data(), name_view.size());
    absl::StatusOr<int> dfd = placer.Open(parent, false, nullptr);
    if (!dfd.ok() || *dfd < 0) {
      return absl::InternalError(
          absl::StrCat("directory of ", PrintableExcerpt(s.entry->path()), " vanished"));
    }
    struct stat st;
    if (fstatat(*dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
      if (absl::Status removed = RemoveTreeAt(*dfd, name); !removed.ok()) return removed;
    }
    if (renameat(*dfd, s.temp_name.c_str(), *dfd, name.c_str()) != 0) {
      return WriteErrorStatus(errno,
                              absl::StrCat("renaming into ", PrintableExcerpt(s.entry->path())));
    }
  }
  if (index_ != nullptr) IndexWritten();
  return absl::OkStatus();
}

void MaterializeRun::IndexWritten() {
  // The index learns where the written files now hold their blobs (files
  // left unchanged are already in it), sealed: their content was verified
  // before it was staged. A seal needs the clock past the tick of the last
  // rename (at most a few milliseconds, once per commit).
  int64_t clock = WorkspaceBlobIndex::CoarseClockNs();
  const int64_t renamed_by = clock;
  while (clock <= renamed_by) {
    struct timespec tick = {0, 1000000};
    nanosleep(&tick, nullptr);
    clock = WorkspaceBlobIndex::CoarseClockNs();
  }
  DirWalker walker(root_fd_.get());
  for (const Staged& s : staged_) {
    if (s.entry->type() != ENTRY_TYPE_FILE) continue;
    std::string path = absl::StrCat(root_, "/", s.entry->path());
    auto [parent, name] = SplitParent(s.entry->path());
    absl::StatusOr<int> dfd = walker.Open(parent, false, nullptr);
    std::optional<WorkspaceBlobIndex::Seal> seal;
    if (dfd.ok() && *dfd >= 0) {
      seal = WorkspaceBlobIndex::SealOf(*dfd, std::string(name.data(), name.size()), clock);
    }
    if (seal.has_value()) {
      index_->AddSealed(s.entry->digest(), std::move(path), s.entry->mtime_ns(), *seal);
    } else {
      index_->Add(s.entry->digest(), std::move(path), s.entry->mtime_ns());
    }
  }
}

void MaterializeRun::Prune(std::vector<const ManifestEntry*> removals) {
  std::sort(removals.begin(), removals.end(),
            [](const ManifestEntry* a, const ManifestEntry* b) { return a->path() > b->path(); });
  DirWalker walker(root_fd_.get());
  for (const ManifestEntry* e : removals) {
    auto [parent, name_view] = SplitParent(e->path());
    const std::string name(name_view.data(), name_view.size());
    absl::StatusOr<int> dfd = walker.Open(parent, false, nullptr);
    if (!dfd.ok() || *dfd < 0) continue;
    if (e->type() == ENTRY_TYPE_DIRECTORY) {
      unlinkat(*dfd, name.c_str(), AT_REMOVEDIR);
    } else if (unlinkat(*dfd, name.c_str(), 0) == 0) {
      ++result_.files_removed;
    }
  }
}

void MaterializeRun::ApplyDirectoryModes() {
  DirWalker walker(root_fd_.get());
  for (const ManifestEntry& entry : next_.entries()) {
    if (entry.type() != ENTRY_TYPE_DIRECTORY || entry.mode() == 0) continue;
    absl::StatusOr<int> dfd = walker.Open(entry.path(), false, nullptr);
    struct stat st;
    if (!dfd.ok() || *dfd < 0 || fstat(*dfd, &st) != 0) continue;
    const mode_t mode = ModeKeepingTaskGrant(entry, st.st_mode);
    if ((st.st_mode & 07777) != mode) fchmod(*dfd, mode);
  }
}

// Entries `previous` listed that `next` does not.
std::vector<const ManifestEntry*> Removals(const Manifest* previous, const Manifest& next) {
  std::vector<const ManifestEntry*> removals;
  if (previous == nullptr) return removals;
  absl::flat_hash_set<absl::string_view> listed;
  listed.reserve(next.entries_size());
  for (const ManifestEntry& e : next.entries()) listed.insert(e.path());
  for (const ManifestEntry& e : previous->entries()) {
    if (!listed.contains(e.path())) removals.push_back(&e);
  }
  return removals;
}

}  // namespace

absl::StatusOr<WorkspaceMaterializer::Result> WorkspaceMaterializer::Apply(
    const std::string& root, const Manifest* previous, const Manifest& next, bool prune,
    bool dry_run, const BlobFilter& may_use, PreviousOnDisk previous_on_disk) const {
  MaterializeRun run(store_, index_, root, previous, next, dry_run, may_use, previous_on_disk);
  if (absl::Status s = run.OpenRoot(); !s.ok()) return s;
  Clock::time_point phase_start = Clock::now();
  // Phase 1: stage everything that changes.
  absl::Status staged = run.Plan();
  if (staged.ok()) staged = run.StageWrites();
  if (!staged.ok()) {
    run.Rollback();
    return staged;
  }
  const std::vector<const ManifestEntry*> removals =
      prune ? Removals(previous, next) : std::vector<const ManifestEntry*>();
  Result& result = run.result();
  if (dry_run) {
    for (const ManifestEntry* e : removals) {
      if (e->type() != ENTRY_TYPE_DIRECTORY) ++result.files_removed;
    }
    return result;
  }
  result.stage_seconds = SecondsSince(phase_start);
  phase_start = Clock::now();
  // Phase 2: staged data (and the blobs it was copied from) reach the disk
  // before any rename makes it visible under a final name.
  if (run.staged_anything() && syncfs(run.root_fd()) != 0) {
    absl::Status s = WriteErrorStatus(errno, "syncing staged files");
    run.Rollback();
    return s;
  }
  result.sync_seconds = SecondsSince(phase_start);
  phase_start = Clock::now();
  // Phase 3: rename into place; from here on only renames and unlinks.
  if (absl::Status s = run.Place(); !s.ok()) return s;
  run.Prune(removals);
  run.ApplyDirectoryModes();
  result.place_seconds = SecondsSince(phase_start);
  phase_start = Clock::now();
  if ((run.staged_anything() || !removals.empty()) && syncfs(run.root_fd()) != 0) {
    return WriteErrorStatus(errno, "syncing the workspace");
  }
  result.sync_seconds += SecondsSince(phase_start);
  return result;
}

}  // namespace mlcube
