#include "agent/jobs/host_path_access.h"

#include "absl/strings/str_cat.h"
#include "common/safe_path.h"

namespace mlcube {

absl::Status HostPathAccess::Check(const std::string& host_dir, bool read_only) const {
  const std::string path = NormalizePath(host_dir);
  if (!state_dir_.empty() && IsWithin(path, NormalizePath(state_dir_))) {
    return absl::PermissionDeniedError(
        absl::StrCat("host path '", PrintableExcerpt(path),
                     "' is in the agent's state directory, which no task mounts"));
  }
  if (owner_) return absl::OkStatus();
  for (const HostBindRoot& root : roots_) {
    if (IsWithin(path, root.host_dir) && (read_only || root.writable)) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "host path '", PrintableExcerpt(path),
      "' is outside the workspace; on this shared agent only its owner's tasks mount host paths "
      "(MLCube mounts it as written)",
      roots_.empty() ? "; the agent's admin may allow paths below a directory with "
                       "`allow.bind_roots` in the agent config"
                     : "; it is not below one of the agent's `allow.bind_roots`" +
                           std::string(read_only ? ""
                                                 : " that is writable (opts: ro would need "
                                                   "only a read-only root)")));
}

}  // namespace mlcube
