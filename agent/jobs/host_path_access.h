#ifndef MLCUBE_REMOTE_AGENT_JOBS_HOST_PATH_ACCESS_H_
#define MLCUBE_REMOTE_AGENT_JOBS_HOST_PATH_ACCESS_H_

// Which host directories outside its workspace a task may mount. MLCube
// mounts a parameter such as `~/.cache/huggingface/hub` or `/data/imagenet`
// as written, with the caller's own access. Here:
//   - the agent's owner (its tasks run as the agent's uid: a per-user agent,
//     an HPC login node) mounts any such path, `~` being the owner's home
//     on that host, as `mlcube run` would;
//   - everybody else only paths below the admin's `allow.bind_roots`
//     (read-only unless the root is writable), the same roots the cube's
//     own bind arguments may use: anything else is refused, naming the
//     setting.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/config/host_access_policy.h"

namespace mlcube {

class HostPathAccess {
 public:
  // `owner`: the tasks run as the agent's own uid. Nothing below
  // `state_dir` (the agent's own files, every identity's cubes) is ever a
  // host path a task may mount.
  HostPathAccess(bool owner, std::vector<HostBindRoot> roots, std::string state_dir)
      : owner_(owner), roots_(std::move(roots)), state_dir_(std::move(state_dir)) {}

  // OK when the task may mount `host_dir` (absolute, normalised; a path
  // resolved through its links when that matters), read-only when
  // `read_only`; else PERMISSION_DENIED saying why and what would allow it.
  absl::Status Check(const std::string& host_dir, bool read_only) const;

 private:
  bool owner_;
  std::vector<HostBindRoot> roots_;
  std::string state_dir_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_JOBS_HOST_PATH_ACCESS_H_
