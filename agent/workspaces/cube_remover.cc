#include "agent/workspaces/cube_remover.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "agent/log/log.h"
#include "common/directory_tree.h"
#include "common/file_util.h"

namespace mlcube {

absl::StatusOr<int64_t> CubeRemover::Remove(const std::string& owner, const std::string& cube_id) {
  absl::MutexLock cube_lock(locks_->For(owner, cube_id));
  const std::string dir = layout_->CubeDir(owner, cube_id);
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("cube '", cube_id, "' is not on this agent"));
  }
  if (absl::Status s = records_->Forget(owner, cube_id); !s.ok()) return s;
  const std::string aside = layout_->DeletingCubeDir(owner, cube_id, NowUnixMs());
  if (rename(dir.c_str(), aside.c_str()) != 0) {
    return WriteErrorStatus(errno, absl::StrCat("moving ", cube_id, " aside"));
  }
  absl::StatusOr<int64_t> measured = TreeBytes(aside);
  const int64_t bytes = measured.ok() ? *measured : 0;
  absl::Status removed = RemoveTree(aside);
  Log(absl::StrCat("deleted ", owner, "/", cube_id, " (", bytes, " bytes)",
                   removed.ok() ? "" : ", not all removed"));
  if (!removed.ok()) return removed;
  return bytes;
}

}  // namespace mlcube
