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
// - output directories (and parents of output files) are listed to be
//   created before the run.
// A pure function: it touches no file system.

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

struct MountPlanOptions {
  // When set, every host path must lie inside this directory (the agent's
  // copy of the workspace); a parameter escaping it is INVALID_ARGUMENT.
  std::string confine_to;
};

absl::StatusOr<TaskInvocation> PlanTaskInvocation(const Task& task,
                                                  const MountPlanOptions& options = {});

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_MOUNT_PLANNER_H_
