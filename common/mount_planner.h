#ifndef MLCUBE_REMOTE_COMMON_MOUNT_PLANNER_H_
#define MLCUBE_REMOTE_COMMON_MOUNT_PLANNER_H_

// Turns a task's parameters into container mounts and arguments with the
// semantics of MLCube's runners:
// - a directory parameter mounts that directory;
// - a file parameter mounts its parent directory and passes the file name;
// - each distinct host directory becomes /mlcube_ioN (N from 0, in order of
//   first use: inputs then outputs, each in declaration order);
// - the container gets `TASK --name=/mlcube_ioN/...` (no TASK when the task
//   has its own entrypoint);
// - `opts: ro` mounts read-only; one directory asked for both ro and rw is
//   an error;
// - every directory parameter (inputs too) and the directory of every file
//   parameter is listed to be created before the run, as MLCube does;
// - a parameter without a type (kUnknown) is a directory or a file by what
//   its path is on the host; a missing path is an error naming it.
// It reads the file system only through MountPlanOptions::probe, and knows
// no runtime's syntax: MountPlanOptions::check_mount_path brings it.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/cube.h"

namespace mlcube {

struct Mount {
  std::string host_path;
  std::string container_path;
  bool read_only = false;
};

struct TaskInvocation {
  std::string task;
  std::string entrypoint;                          // empty: image default
  std::vector<std::string> args;                   // argv after the image / entrypoint
  std::vector<Mount> mounts;                       // ordered by container path index
  std::vector<std::string> directories_to_create;  // host paths
};

enum class PathKind { kMissing, kFile, kDirectory };

struct MountPlanOptions {
  // When set, every host path must lie inside this directory (the agent's
  // copy of the workspace); a parameter escaping it is INVALID_ARGUMENT.
  // MLCube creates the workspace before every task: it is listed first in
  // directories_to_create.
  std::string confine_to;
  // Trees beside the workspace that an *input* written as a relative path
  // may lie in (`../../configs/x.yaml`: the cube's own tree, a tree of its
  // repository synced for it): mounted like the workspace. An output
  // outside `confine_to` written as a relative path is refused (outputs are
  // pulled back from the workspace).
  std::vector<std::string> also_within;
  // When set, asked about a parameter written as a host path (absolute or
  // `~/...`) that lies outside `confine_to` (MLCube mounts `~/.cache/...`
  // or `/data/x` as written): OK mounts it (read-only when `read_only`), an
  // error refuses the parameter, its message prefixed with the parameter's
  // key. Unset: every such parameter is refused as outside the workspace.
  std::function<absl::Status(const std::string& host_dir, bool read_only)> allow_outside;
  // What a host path is; the default stats it.
  std::function<PathKind(const std::string&)> probe;
  // When set, called with the host and the container path of every mount;
  // an error refuses the parameter that makes the mount, its message
  // prefixed with the parameter's key. The agent passes the runtimes' mount
  // grammar here, so a path the runtime would split into other mounts is
  // refused at submit.
  std::function<absl::Status(const std::string&)> check_mount_path;
};

// stat(2) of `path` (following links).
PathKind ProbeHostPath(const std::string& path);

absl::StatusOr<TaskInvocation> PlanTaskInvocation(const Task& task,
                                                  const MountPlanOptions& options = {});

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_MOUNT_PLANNER_H_
