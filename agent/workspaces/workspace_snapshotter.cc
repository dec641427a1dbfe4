#include "agent/workspaces/workspace_snapshotter.h"

#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/log/log.h"
#include "agent/workspaces/snapshot_walker.h"
#include "common/safe_path.h"
#include "common/unique_fd.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

namespace {

// The directory that holds workspace path `parts` (its last part), opened
// below `root` without following symlinks; an empty fd when a directory on
// the way is missing.
UniqueFd OpenParent(int root, const std::vector<std::string>& parts) {
  UniqueFd parent(dup(root));
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    int fd =
        openat(parent.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return UniqueFd();
    parent.Reset(fd);
  }
  return parent;
}

}  // namespace

absl::StatusOr<WorkspaceSnapshotter::Result> WorkspaceSnapshotter::Take(
    const std::string& owner, const Request& request) const {
  const absl::Time start = absl::Now();
  const std::string workspace = layout_->CubeDir(owner, request.cube_id) + "/workspace";
  UniqueFd root(open(workspace.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root) {
    return absl::NotFoundError(
        absl::StrCat("cube '", request.cube_id, "' has no workspace on this agent"));
  }
  std::map<std::string, v1::ManifestEntry> entries;
  SnapshotWalker walker(index_, workspace, &entries, splicer_, request.chunk_big_files, owner,
                        &digests_);
  std::vector<std::string> paths = request.paths;
  if (paths.empty()) paths.push_back("");
  for (const std::string& path : paths) {
    if (!path.empty()) {
      if (absl::Status s = ValidateRelativePath(path); !s.ok()) return s;
    }
    std::vector<std::string> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
    UniqueFd parent = OpenParent(root.get(), parts);
    if (!parent) {
      if (request.tolerate_missing) continue;  // an output its task never wrote
      return absl::NotFoundError(absl::StrCat("workspace path '", path, "' not found"));
    }
    absl::Status s = walker.AddPath(parent.get(), parts.empty() ? "." : parts.back(), path);
    // A job's output that its task never wrote is simply not there.
    if (s.code() == absl::StatusCode::kNotFound && request.tolerate_missing) continue;
    if (!s.ok()) return s;
  }
  absl::StatusOr<Result> result = Store(owner, &entries);
  if (!result.ok()) return result;
  result->files_hashed = walker.files_hashed();
  Log(absl::StrFormat("snapshot %s/%s: %d files (%d bytes), %d hashed, %.3fs", owner,
                      request.cube_id, result->file_count, result->total_bytes,
                      result->files_hashed, absl::ToDoubleSeconds(absl::Now() - start)));
  return result;
}

absl::StatusOr<WorkspaceSnapshotter::Result> WorkspaceSnapshotter::Store(
    const std::string& owner, std::map<std::string, v1::ManifestEntry>* entries) const {
  v1::Manifest manifest;
  Result result;
  for (auto& [path, entry] : *entries) {
    if (entry.type() == v1::ENTRY_TYPE_FILE) {
      ++result.file_count;
      result.total_bytes += entry.digest().size_bytes();
    }
    *manifest.add_entries() = std::move(entry);
  }
  const std::string serialized = manifest.SerializeAsString();
  result.manifest = DigestOf(serialized);
  if (absl::Status s = store_->Put(result.manifest, serialized); !s.ok()) return s;
  access_->Grant(owner, result.manifest);  // the caller reads it next
  return result;
}

}  // namespace mlcube
