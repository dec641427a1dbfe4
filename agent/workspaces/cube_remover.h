#ifndef MLCUBE_REMOTE_AGENT_WORKSPACES_CUBE_REMOVER_H_
#define MLCUBE_REMOTE_AGENT_WORKSPACES_CUBE_REMOVER_H_

// Removes a cube: forgets its commit first, then moves its tree aside
// (STATE/cubes/OWNER/.deleting-*) and removes it, so a crash midway leaves
// no commit record naming files that are gone (the next push sends
// everything again) and the tree out of the cube's way; WorkspaceRecovery
// finishes such removals at start-up. Holds the cube's lock (CubeLocks)
// throughout. Thread-safe.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "agent/state/state_layout.h"
#include "agent/workspaces/commit_records.h"
#include "agent/workspaces/cube_locks.h"

namespace mlcube {

class CubeRemover {
 public:
  // None owned; all outlive the remover.
  CubeRemover(const StateLayout* layout, CommitRecords* records, CubeLocks* locks)
      : layout_(layout), records_(records), locks_(locks) {}

  // Removes `owner`'s cube `cube_id` (validated; the caller checked that no
  // job uses it) and returns the bytes its files held. NOT_FOUND when the
  // cube has no tree. Logs one line. When the tree could not all be
  // removed, the error (the cube is gone either way).
  absl::StatusOr<int64_t> Remove(const std::string& owner, const std::string& cube_id);

 private:
  const StateLayout* layout_;
  CommitRecords* records_;
  CubeLocks* locks_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_WORKSPACES_CUBE_REMOVER_H_
