#ifndef MLCUBE_REMOTE_AGENT_ACCESS_WORKSPACE_ACCESS_H_
#define MLCUBE_REMOTE_AGENT_ACCESS_WORKSPACE_ACCESS_H_

// At start-up: gives every cube workspace already under STATE/cubes the
// access list of its identity's task uid (TreeAcl), so trees made before
// workspaces had access lists (other bits set on disk) are private from the
// start, not only from their next job. Identities without a task uid get
// the agent alone. Fast for trees that already have theirs.

#include "absl/synchronization/notification.h"
#include "agent/access/task_user_resolver.h"
#include "agent/state/state_layout.h"

namespace mlcube {

// Errors are logged (one line per workspace) and skipped: a hostile tree
// never stops the rest or the agent. Meant for a thread of its own: returns
// early, between two workspaces, once `stop` is notified.
void SecureExistingWorkspaces(const StateLayout& layout, TaskUserResolver* task_users,
                              const absl::Notification& stop);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_ACCESS_WORKSPACE_ACCESS_H_
