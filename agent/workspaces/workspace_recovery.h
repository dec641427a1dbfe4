#ifndef MLCUBE_REMOTE_AGENT_WORKSPACES_WORKSPACE_RECOVERY_H_
#define MLCUBE_REMOTE_AGENT_WORKSPACES_WORKSPACE_RECOVERY_H_

// What a crash left behind under STATE/cubes, cleared at start-up: a
// commit's staged temp files (.mlcube-sync-*; its commit record was not
// written, so the next push commits again) and trees a cube removal moved
// aside but did not finish removing (CubeRemover).

#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "agent/state/state_layout.h"

namespace mlcube {

class WorkspaceRecovery {
 public:
  // Removes the staged files now, and the trees moved aside on a thread of
  // its own: removing a tree a task made can take minutes (a chain of
  // 20,000 directories does on ext4), and it runs on paths nothing else
  // uses, so start-up never waits for it. A tree that cannot be removed
  // stays (retried at the next start) with a message; it never stops the
  // agent, nor does a thread the system cannot give (then the trees wait
  // for the next start).
  explicit WorkspaceRecovery(const StateLayout& layout);
  // Stops the removals between two entries (the rest waits for the next
  // start) and joins the thread.
  ~WorkspaceRecovery();
  WorkspaceRecovery(const WorkspaceRecovery&) = delete;
  WorkspaceRecovery& operator=(const WorkspaceRecovery&) = delete;

 private:
  void RemoveAside(const std::vector<std::string>& aside);

  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_WORKSPACES_WORKSPACE_RECOVERY_H_
