#include "agent/access/workspace_access.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/access/tree_acl.h"

namespace mlcube {
namespace {

// The names in `dir` that do not start with a dot (those are being deleted
// or are not cubes).
std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') names.push_back(e->d_name);
    }
    closedir(d);
  }
  return names;
}

}  // namespace

void SecureExistingWorkspaces(const StateLayout& layout, TaskUserResolver* task_users) {
  const uid_t agent = geteuid();
  for (const std::string& owner : Names(layout.CubesDir())) {
    auto user = task_users->Resolve(owner);
    const TreeAcl acl(agent, user.ok() ? user->uid : agent);
    if (absl::Status s = TreeAcl(agent, agent).ApplyToDirectory(layout.OwnerCubesDir(owner));
        !s.ok()) {
      fprintf(stderr, "mlcube-agent: access list of %s: %s\n", owner.c_str(),
              std::string(s.message()).c_str());
    }
    for (const std::string& cube : Names(layout.OwnerCubesDir(owner))) {
      const std::string workspace = absl::StrCat(layout.CubeDir(owner, cube), "/workspace");
      struct stat st;
      if (lstat(workspace.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
      if (absl::Status s = acl.ApplyToTree(workspace); !s.ok()) {
        fprintf(stderr, "mlcube-agent: access list of %s/%s: %s\n", owner.c_str(), cube.c_str(),
                std::string(s.message()).c_str());
      }
    }
  }
}

}  // namespace mlcube
