#include "agent/workspaces/workspace_recovery.h"

#include <system_error>

#include "absl/strings/str_cat.h"
#include "agent/log/log.h"
#include "common/directory_tree.h"
#include "common/file_util.h"
#include "common/safe_path.h"

namespace mlcube {

WorkspaceRecovery::WorkspaceRecovery(const StateLayout& layout) {
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
  try {
    thread_ = std::thread([this, aside = std::move(aside)] { RemoveAside(aside); });
  } catch (const std::system_error& e) {
    LogWarning(absl::StrCat("cubes being deleted stay until the next start: ", e.what()));
  }
}

WorkspaceRecovery::~WorkspaceRecovery() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void WorkspaceRecovery::RemoveAside(const std::vector<std::string>& aside) {
  for (const std::string& path : aside) {
    if (stop_.HasBeenNotified()) return;
    absl::Status removed = RemoveTree(path, &stop_);
    if (!removed.ok() && !stop_.HasBeenNotified()) {
      LogWarning(absl::StrCat("left ", PrintableExcerpt(path),
                              " in place: ", PrintableExcerpt(removed.message())));
    }
  }
}

}  // namespace mlcube
