#include "agent/workspaces/commit_records.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/unique_fd.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

namespace {

std::optional<v1::CubeSummary> ReadRecord(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  v1::CubeSummary summary;
  if (!fd || !summary.ParseFromFileDescriptor(fd.get())) return std::nullopt;
  return summary;
}

}  // namespace

std::optional<v1::CubeSummary> CommitRecords::Read(const std::string& owner,
                                                   const std::string& cube_id) const {
  return ReadRecord(layout_->CommitFile(owner, cube_id));
}

absl::Status CommitRecords::Write(const std::string& owner, const std::string& cube_id,
                                  const v1Digest& manifest, bool workspace_used) {
  v1::CubeSummary summary;
  summary.set_cube_id(cube_id);
  *summary.mutable_committed_manifest() = manifest;
  summary.set_committed_unix_ms(NowUnixMs());
  summary.set_workspace_used(workspace_used);
  if (absl::Status s = MakeDirs(layout_->OwnerCommitsDir(owner)); !s.ok()) return s;
  return WriteFileAtomically(layout_->CommitFile(owner, cube_id), summary.SerializeAsString(),
                             0644);
}

absl::Status CommitRecords::MarkWorkspaceUsed(const std::string& owner,
                                              const std::string& cube_id) {
  std::optional<v1::CubeSummary> summary = Read(owner, cube_id);
  if (!summary.has_value() || summary->workspace_used()) return absl::OkStatus();
  summary->set_workspace_used(true);
  return WriteFileAtomically(layout_->CommitFile(owner, cube_id), summary->SerializeAsString(),
                             0644);
}

absl::Status CommitRecords::Forget(const std::string& owner, const std::string& cube_id) {
  if (unlink(layout_->CommitFile(owner, cube_id).c_str()) != 0 && errno != ENOENT) {
    return WriteErrorStatus(errno, "forgetting the commit");
  }
  return absl::OkStatus();
}

std::vector<v1::CubeSummary> CommitRecords::List(const std::string& owner) const {
  const std::string dir = layout_->OwnerCommitsDir(owner);
  std::vector<std::string> names = ListNames(dir, "");  // none yet: no cubes
  std::sort(names.begin(), names.end());
  std::vector<v1::CubeSummary> records;
  for (const std::string& name : names) {
    if (!absl::EndsWith(name, StateLayout::kCommitSuffix)) continue;
    std::optional<v1::CubeSummary> summary = ReadRecord(absl::StrCat(dir, "/", name));
    if (summary.has_value()) records.push_back(std::move(*summary));
  }
  return records;
}

void CommitRecords::ForEach(const Visitor& visit) const {
  for (const std::string& owner : ListNames(layout_->CommitsDir(), "")) {
    const std::string owner_dir = layout_->OwnerCommitsDir(owner);
    for (const std::string& name : ListNames(owner_dir, "")) {
      if (!absl::EndsWith(name, StateLayout::kCommitSuffix)) continue;
      std::optional<v1::CubeSummary> summary = ReadRecord(absl::StrCat(owner_dir, "/", name));
      if (summary.has_value()) visit(owner, *summary);
    }
  }
}

}  // namespace mlcube
