#include "agent/workspaces/workspace_recovery.h"

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/directory_tree.h"
#include "common/file_util.h"
#include "common/safe_path.h"

namespace mlcube {

void RecoverWorkspaces(const StateLayout& layout) {
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
  if (aside.empty()) return;
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

}  // namespace mlcube
