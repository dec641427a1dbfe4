#include "agent/jobs/task_step.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/beneath_dir.h"
#include "common/file_util.h"
#include "common/mount_planner.h"
#include "common/safe_path.h"

namespace mlcube {
namespace {

absl::StatusOr<const Task*> FindTask(const Cube& cube, const std::string& task) {
  auto it = cube.tasks.find(task);
  if (it != cube.tasks.end()) return &it->second;
  std::vector<std::string> names;
  for (const auto& [name, t] : cube.tasks) names.push_back(name);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown task '", task, "' (the cube has: ", absl::StrJoin(names, ", "), ")"));
}

// The planner checks paths lexically; symlinks are checked here.
absl::Status CheckMountsResolveInside(const Cube& cube, const std::string& task,
                                      const TaskInvocation& invocation, bool dry_run,
                                      const std::vector<std::string>& creates) {
  const std::string real_workspace = ResolvedPath(cube.workspace);
  for (const Mount& m : invocation.mounts) {
    const std::string real = ResolvedPath(m.host_path);
    if (real.empty()) {
      if (dry_run && std::find(creates.begin(), creates.end(), m.host_path) != creates.end()) {
        continue;  // created when the task starts
      }
      return absl::NotFoundError(absl::StrCat("task ", task, ": ", m.host_path, " does not exist"));
    }
    if (real_workspace.empty() || !IsWithin(real, real_workspace)) {
      return absl::PermissionDeniedError(
          absl::StrCat("task ", task, ": ", m.host_path, " resolves outside the workspace"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

StepContext JobStepContext(const StateLayout& layout, const std::string& job_id,
                           const std::string& owner,
                           const mlcube_remote::v1::SubmitJobRequest& request,
                           const HostAccessPolicy& host_access) {
  StepContext context;
  context.job_id = job_id;
  context.uid = getuid();
  context.gid = getgid();
  context.env.insert(request.env().begin(), request.env().end());
  context.gpus = request.gpus();
  context.job_dir = layout.JobDir(job_id);
  context.scratch_dir = layout.JobScratchDir(job_id);
  context.owner = owner;
  context.image_dir = layout.OwnerImagesDir(owner);
  context.host_access = host_access;
  return context;
}

absl::StatusOr<PlannedTaskStep> PrepareTaskStep(const Cube& cube, const std::string& task,
                                                ContainerRuntime& runtime,
                                                const StepContext& context) {
  absl::StatusOr<const Task*> found = FindTask(cube, task);
  if (!found.ok()) return found.status();
  MountPlanOptions plan_options;
  plan_options.confine_to = cube.workspace;
  absl::StatusOr<TaskInvocation> invocation = PlanTaskInvocation(**found, plan_options);
  if (!invocation.ok()) return invocation.status();
  PlannedTaskStep step;
  step.creates = invocation->directories_to_create;
  if (!context.dry_run) {
    if (absl::Status s = MakeDirsBeneath(cube.workspace, step.creates); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("task ", task, ": ", s.message()));
    }
  }
  if (absl::Status s =
          CheckMountsResolveInside(cube, task, *invocation, context.dry_run, step.creates);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<StepCommand> command = runtime.TaskCommand(cube, *invocation, context);
  if (!command.ok()) return command.status();
  step.command = std::move(*command);
  return step;
}

absl::Status CheckTaskAtSubmit(const Cube& cube, const std::string& task, bool after_other_tasks) {
  absl::StatusOr<const Task*> found = FindTask(cube, task);
  if (!found.ok()) return found.status();
  MountPlanOptions plan_options;
  plan_options.confine_to = cube.workspace;
  if (after_other_tasks) {
    plan_options.probe = [](const std::string& path) {
      const PathKind kind = ProbeHostPath(path);
      return kind == PathKind::kMissing ? PathKind::kDirectory : kind;
    };
  }
  return PlanTaskInvocation(**found, plan_options).status();
}

}  // namespace mlcube
