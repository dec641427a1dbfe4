#ifndef MLCUBE_REMOTE_AGENT_WORKSPACES_COMMIT_RECORDS_H_
#define MLCUBE_REMOTE_AGENT_WORKSPACES_COMMIT_RECORDS_H_

// The commit record of each cube, STATE/commits/OWNER/CUBE_ID.commit: a
// CubeSummary naming the manifest the cube's workspace last matched. It is
// written (atomically) after the workspace matches it, and removed before a
// cube's tree is, so a record never names files that are gone. A record
// that cannot be read counts as absent. Callers serialise the changes of
// one cube (CubeLocks); owners and cube ids are validated before they get
// here.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/state/state_layout.h"
#include "common/digest.h"
#include "mlcube_remote/v1/workspace.pb.h"

namespace mlcube {

class CommitRecords {
 public:
  // `layout` is not owned and outlives the records.
  explicit CommitRecords(const StateLayout* layout) : layout_(layout) {}

  // The cube's record; nullopt when it has none (or it is unreadable).
  std::optional<::mlcube_remote::v1::CubeSummary> Read(const std::string& owner,
                                                       const std::string& cube_id) const;

  // Records `manifest` as the cube's commit, now; `workspace_used` as the
  // workspace's state from then on (true while a job of the cube may still
  // write there).
  absl::Status Write(const std::string& owner, const std::string& cube_id, const v1Digest& manifest,
                     bool workspace_used = false);

  // Sets CubeSummary.workspace_used (a job used the workspace) until the
  // next commit. OK when the cube has no record or it is already set.
  absl::Status MarkWorkspaceUsed(const std::string& owner, const std::string& cube_id);

  // Removes the cube's record (OK when it has none).
  absl::Status Forget(const std::string& owner, const std::string& cube_id);

  // `owner`'s records, by file name.
  std::vector<::mlcube_remote::v1::CubeSummary> List(const std::string& owner) const;

  // Calls `visit` with every owner's every readable record.
  using Visitor =
      std::function<void(const std::string& owner, const ::mlcube_remote::v1::CubeSummary&)>;
  void ForEach(const Visitor& visit) const;

 private:
  const StateLayout* layout_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_WORKSPACES_COMMIT_RECORDS_H_
