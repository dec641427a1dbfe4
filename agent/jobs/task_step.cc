#include "agent/jobs/task_step.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/access/tree_acl.h"
#include "agent/runtimes/mount_spec.h"
#include "common/beneath_dir.h"
#include "common/file_util.h"
#include "common/mount_planner.h"
#include "common/safe_path.h"
#include "common/tree_walker.h"
#include "common/unique_fd.h"

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

// Who may mount host paths outside the workspace (HostPathAccess).
HostPathAccess AccessOf(const StepContext& context) {
  return HostPathAccess(context.uid == context.agent_uid, context.host_access.bind_roots,
                        context.state_dir);
}

// Mounts confined to the workspace but for the host paths `access`
// allows, each one a runtime can carry as one mount (see MountSpec).
MountPlanOptions AgentPlanOptions(const Cube& cube, const HostPathAccess& access) {
  MountPlanOptions options;
  options.confine_to = cube.workspace;
  options.also_within = cube.input_trees;
  options.allow_outside = [access](const std::string& host_dir, bool read_only) {
    return access.Check(host_dir, read_only);
  };
  options.check_mount_path = [](const std::string& path) {
    return MountSpec::CheckPathForEveryRuntime(path);
  };
  return options;
}

// The task's mounts, confined to the workspace but for what `access` allows.
absl::StatusOr<TaskInvocation> PlanTask(const Cube& cube, const std::string& task,
                                        const HostPathAccess& access) {
  absl::StatusOr<const Task*> found = FindTask(cube, task);
  if (!found.ok()) return found.status();
  return PlanTaskInvocation(**found, AgentPlanOptions(cube, access));
}

bool InWorkspace(const Cube& cube, const std::string& host_path) {
  return IsWithin(NormalizePath(host_path), NormalizePath(cube.workspace));
}

// The tree of Cube::input_trees holding `host_path`, else "".
std::string TreeHolding(const Cube& cube, const std::string& host_path) {
  for (const std::string& tree : cube.input_trees) {
    if (IsWithin(NormalizePath(host_path), NormalizePath(tree))) return tree;
  }
  return "";
}

// The planner checks paths lexically; symlinks are checked here: a mount
// in the workspace must resolve inside it, one outside it (a host path the
// task may mount) must resolve where `access` allows.
absl::Status CheckMountsResolveInside(const Cube& cube, const std::string& task,
                                      const TaskInvocation& invocation, bool dry_run,
                                      const std::vector<std::string>& creates,
                                      const HostPathAccess& access) {
  const std::string real_workspace = ResolvedPath(cube.workspace);
  for (const Mount& m : invocation.mounts) {
    const std::string real = ResolvedPath(m.host_path);
    if (real.empty()) {
      if (dry_run && std::find(creates.begin(), creates.end(), m.host_path) != creates.end()) {
        continue;  // created when the task starts
      }
      return absl::NotFoundError(absl::StrCat("task ", task, ": ", m.host_path, " does not exist"));
    }
    if (!InWorkspace(cube, m.host_path)) {
      if (const std::string tree = TreeHolding(cube, m.host_path); !tree.empty()) {
        const std::string real_tree = ResolvedPath(tree);
        if (real_tree.empty() || !IsWithin(real, real_tree)) {
          return absl::PermissionDeniedError(
              absl::StrCat("task ", task, ": ", m.host_path, " resolves outside ", tree));
        }
        continue;
      }
      if (absl::Status s = access.Check(real, m.read_only); !s.ok()) {
        return absl::PermissionDeniedError(
            absl::StrCat("task ", task, ": ", m.host_path, " resolves to ", s.message()));
      }
      continue;
    }
    if (real_workspace.empty() || !IsWithin(real, real_workspace)) {
      return absl::PermissionDeniedError(
          absl::StrCat("task ", task, ": ", m.host_path, " resolves outside the workspace"));
    }
  }
  return absl::OkStatus();
}

// Creates the directories a task needs, as MLCube does: below the
// workspace without following any link (0770: with the tree's default ACL
// the task uid may write in them); outside it (host paths the task may
// mount, HostPathAccess) as the agent's user, like `mkdir -p`.
absl::Status MakeTaskDirs(const Cube& cube, const std::vector<std::string>& creates) {
  std::vector<std::string> inside;
  for (const std::string& dir : creates) {
    if (InWorkspace(cube, dir)) {
      inside.push_back(dir);
    } else if (absl::Status s = MakeDirs(dir); !s.ok()) {
      return s;
    }
  }
  return MakeDirsBeneath(cube.workspace, inside, 0770);
}

// Gives the entry `name` of `dir_fd` (the agent's, not a link: `st` is its
// lstat) TreeAcl::TaskWritableMode. Opened without following links, so an entry
// swapped for a link since `st` was taken is never changed; one that cannot
// be opened (no owner read bit) is left as it is.
absl::Status GrantTaskWrite(int dir_fd, const std::string& name, const struct stat& st,
                            const std::string& shown) {
  const mode_t wanted = TreeAcl::TaskWritableMode(st.st_mode);
  if ((st.st_mode & 07777) == wanted) return absl::OkStatus();
  const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
                    (S_ISDIR(st.st_mode) ? O_DIRECTORY : O_NOCTTY);
  UniqueFd fd(openat(dir_fd, name.c_str(), flags));
  if (!fd) return absl::OkStatus();
  struct stat opened;
  if (fstat(fd.get(), &opened) != 0 || opened.st_ino != st.st_ino || opened.st_dev != st.st_dev) {
    return absl::OkStatus();
  }
  if (fchmod(fd.get(), wanted) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot let the task write ", shown, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

// The task uid gets the group (ACL mask) permissions of the agent's files:
// every entry of the agent's in a writable mount (the mount's directory
// and what was pushed or made below it) gets TreeAcl::TaskWritableMode, so a task
// may overwrite outputs that an earlier run left and the laptop pushed
// back, as it may overwrite its own. Walked below the workspace without
// following links; entries the agent does not own are the task's already
// (and their directories are not entered).
absl::Status LetTaskWrite(const Cube& cube, const TaskInvocation& invocation) {
  auto workspace = BeneathDir::Open(cube.workspace);
  if (!workspace.ok()) return workspace.status();
  for (const Mount& m : invocation.mounts) {
    if (m.read_only || m.host_path == cube.workspace) continue;
    const size_t slash = m.host_path.rfind('/');
    if (slash == std::string::npos) continue;
    auto parent = workspace->OpenDirPath(m.host_path.substr(0, slash), false);
    if (!parent.ok()) continue;  // the mount check below names it
    const std::string name = m.host_path.substr(slash + 1);
    struct stat st;
    if (fstatat(parent->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (st.st_uid != geteuid() || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) continue;
    if (absl::Status s = GrantTaskWrite(parent->get(), name, st, m.host_path); !s.ok()) return s;
    if (!S_ISDIR(st.st_mode)) continue;
    UniqueFd dir(
        openat(parent->get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) continue;
    const uid_t agent_uid = geteuid();
    TreeWalker walker(TreeLimits{});
    absl::Status walked = walker.Walk(
        dir.get(), m.host_path,
        [&m, agent_uid](const TreeWalker::Entry& e) -> absl::StatusOr<TreeWalker::Next> {
          if (e.st.st_uid != agent_uid || !(S_ISDIR(e.st.st_mode) || S_ISREG(e.st.st_mode))) {
            return TreeWalker::Next::kSkip;
          }
          if (absl::Status s =
                  GrantTaskWrite(e.dir_fd, e.name, e.st, absl::StrCat(m.host_path, "/", e.rel));
              !s.ok()) {
            return s;
          }
          return TreeWalker::Next::kDescend;
        });
    if (!walked.ok()) return walked;
  }
  return absl::OkStatus();
}

// The topmost entries below `host_path` (a task's writable mount, below the
// workspace) that the agent does not own: the task's. Walked as the agent,
// never following a link, never into the task's own directories.
absl::StatusOr<std::vector<std::string>> TaskOwnedEntries(const Cube& cube,
                                                          const std::string& host_path,
                                                          uid_t agent_uid) {
  constexpr size_t kMaxEntries = 4096;  // more: the rest stay as they are
  std::vector<std::string> rels;
  auto workspace = BeneathDir::Open(cube.workspace);
  if (!workspace.ok()) return workspace.status();
  const size_t slash = host_path.rfind('/');
  if (host_path == cube.workspace || slash == std::string::npos) return rels;
  auto parent = workspace->OpenDirPath(host_path.substr(0, slash), false);
  if (!parent.ok()) return rels;  // gone: nothing to repair
  const std::string name = host_path.substr(slash + 1);
  struct stat st;
  if (fstatat(parent->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISLNK(st.st_mode)) {
    return rels;
  }
  if (st.st_uid != agent_uid) return std::vector<std::string>{""};
  if (!S_ISDIR(st.st_mode)) return rels;
  UniqueFd dir(
      openat(parent->get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) return rels;
  TreeWalker walker(TreeLimits{});
  absl::Status walked = walker.Walk(
      dir.get(), host_path,
      [&rels, agent_uid](const TreeWalker::Entry& e) -> absl::StatusOr<TreeWalker::Next> {
        if (e.st.st_uid == agent_uid) return TreeWalker::Next::kDescend;
        if (!S_ISLNK(e.st.st_mode) && rels.size() < kMaxEntries) rels.push_back(e.rel);
        return TreeWalker::Next::kSkip;
      });
  if (!walked.ok()) return walked;
  return rels;
}

}  // namespace

StepContext JobStepContext(const StateLayout& layout, const std::string& job_id,
                           const std::string& owner,
                           const mlcube_remote::v1::SubmitJobRequest& request,
                           const AgentConfig& config, const TaskUser& user) {
  StepContext context;
  context.job_id = job_id;
  context.uid = user.uid;
  context.gid = user.gid;
  context.agent_uid = geteuid();
  context.env.insert(request.env().begin(), request.env().end());
  context.caller_env.insert(request.caller_env().begin(), request.caller_env().end());
  context.caller_env_withheld.insert(request.caller_env_withheld().begin(),
                                     request.caller_env_withheld().end());
  context.gpus = request.gpus();
  // On Slurm, GPUs asked per node reach every rank's container (--nv).
  if (auto per_node = request.slurm().find("gpus_per_node");
      context.gpus.empty() && per_node != request.slurm().end()) {
    context.gpus = per_node->second;
  }
  context.job_dir = layout.JobDir(job_id);
  context.scratch_dir = layout.JobScratchDir(job_id);
  context.owner = owner;
  context.image_dir = layout.OwnerImagesDir(owner);
  context.state_dir = layout.root();
  context.host_access = config.allow;
  context.limits.memory_bytes = config.limits.task_memory;
  context.limits.pids = config.limits.task_pids;
  context.limits.apptainer = config.limits.task_limits_set;
  return context;
}

mlcube_remote::v1::SubmitJobRequest WithCallerValuesWithheld(
    const mlcube_remote::v1::SubmitJobRequest& request) {
  mlcube_remote::v1::SubmitJobRequest stored = request;
  for (const auto& [name, unused] : request.caller_env()) stored.add_caller_env_withheld(name);
  std::sort(stored.mutable_caller_env_withheld()->begin(),
            stored.mutable_caller_env_withheld()->end());
  stored.clear_caller_env();
  return stored;
}

void GiveGpus(const std::vector<GpuDevice>& devices, StepContext* context) {
  if (devices.empty()) return;
  std::vector<std::string> ids;
  for (const GpuDevice& device : devices) {
    ids.push_back(device.uuid.empty() ? std::to_string(device.index) : device.uuid);
  }
  context->gpus = absl::StrCat("device=", absl::StrJoin(ids, ","));
  context->gpu_devices = devices;
}

void RecordAllocatedDevices(const std::vector<GpuDevice>& devices, mlcube_remote::v1::Job* job) {
  for (const GpuDevice& device : devices) {
    mlcube_remote::v1::AllocatedGpu* held = job->add_gpus();
    held->set_index(device.index);
    held->set_uuid(device.uuid);
    held->set_name(device.name);
  }
}

std::vector<GpuDevice> AllocatedDevices(const mlcube_remote::v1::Job& job) {
  std::vector<GpuDevice> devices;
  for (const auto& held : job.gpus()) {
    GpuDevice device;
    device.index = held.index();
    device.uuid = held.uuid();
    device.name = held.name();
    devices.push_back(std::move(device));
  }
  return devices;
}

absl::StatusOr<PlannedTaskStep> PrepareTaskStep(const Cube& cube, const std::string& task,
                                                ContainerRuntime& runtime,
                                                const StepContext& context) {
  const HostPathAccess access = AccessOf(context);
  absl::StatusOr<TaskInvocation> invocation = PlanTask(cube, task, access);
  if (!invocation.ok()) return invocation.status();
  PlannedTaskStep step;
  step.creates = invocation->directories_to_create;
  if (!context.dry_run) {
    if (absl::Status s = MakeTaskDirs(cube, step.creates); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("task ", task, ": ", s.message()));
    }
    if (absl::Status s = TreeAcl(context.agent_uid, context.uid).ApplyToTree(cube.workspace);
        !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("task ", task, ": ", s.message()));
    }
    if (absl::Status s = LetTaskWrite(cube, *invocation); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("task ", task, ": ", s.message()));
    }
  }
  if (absl::Status s =
          CheckMountsResolveInside(cube, task, *invocation, context.dry_run, step.creates, access);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<StepCommand> command = runtime.TaskCommand(cube, *invocation, context);
  if (!command.ok()) return command.status();
  step.command = std::move(*command);
  return step;
}

absl::Status RepairTaskFiles(const Cube& cube, const std::string& task, ContainerRuntime& runtime,
                             const StepContext& context) {
  if (context.uid == context.agent_uid) return absl::OkStatus();
  absl::StatusOr<TaskInvocation> invocation = PlanTask(cube, task, AccessOf(context));
  if (!invocation.ok()) return invocation.status();
  std::vector<TaskOwnedPaths> owned;
  for (const Mount& m : invocation->mounts) {
    // Only the workspace is the agent's to repair (not an admin's bind root).
    if (m.read_only || !InWorkspace(cube, m.host_path)) continue;
    auto paths = TaskOwnedEntries(cube, m.host_path, context.agent_uid);
    if (!paths.ok()) return paths.status();
    owned.push_back(TaskOwnedPaths{m.host_path, std::move(*paths)});
  }
  return runtime.RepairTaskFiles(cube, owned, context);
}

absl::Status CheckTaskAtSubmit(const Cube& cube, const std::string& task, bool after_other_tasks,
                               const HostPathAccess& access) {
  absl::StatusOr<const Task*> found = FindTask(cube, task);
  if (!found.ok()) return found.status();
  MountPlanOptions plan_options = AgentPlanOptions(cube, access);
  if (after_other_tasks) {
    plan_options.probe = [](const std::string& path) {
      const PathKind kind = ProbeHostPath(path);
      return kind == PathKind::kMissing ? PathKind::kDirectory : kind;
    };
  }
  return PlanTaskInvocation(**found, plan_options).status();
}

}  // namespace mlcube
