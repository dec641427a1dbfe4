#include "agent/access/workspace_access.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/access/tree_acl.h"
#include "agent/log/log.h"
#include "common/file_util.h"

namespace mlcube {

void SecureExistingWorkspaces(const StateLayout& layout, TaskUserResolver* task_users,
                              const absl::Notification& stop) {
  const uid_t agent = geteuid();
  for (const std::string& owner : ListNames(layout.CubesDir(), "")) {
    if (stop.HasBeenNotified()) return;
    auto user = task_users->Resolve(owner);
    const TreeAcl acl(agent, user.ok() ? user->uid : agent);
    if (absl::Status s = TreeAcl(agent, agent).ApplyToDirectory(layout.OwnerCubesDir(owner));
        !s.ok()) {
      LogWarning(absl::StrCat("access list of ", owner, ": ", s.message()));
    }
    for (const std::string& cube : ListNames(layout.OwnerCubesDir(owner), "")) {
      if (stop.HasBeenNotified()) return;
      const std::string workspace = absl::StrCat(layout.CubeDir(owner, cube), "/workspace");
      struct stat st;
      if (lstat(workspace.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
      if (absl::Status s = acl.ApplyToTree(workspace); !s.ok()) {
        LogWarning(absl::StrCat("access list of ", owner, "/", cube, ": ", s.message()));
      }
    }
  }
}

}  // namespace mlcube
