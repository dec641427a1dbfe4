#ifndef MLCUBE_REMOTE_AGENT_JOBS_TASK_STEP_H_
#define MLCUBE_REMOTE_AGENT_JOBS_TASK_STEP_H_

// One task step of a job, planned the same way for a real run and for
// `run --dry-run`: the mount plan (a parameter without a type is decided by
// what its path is on the host when the step starts, as MLCube decides when
// the task starts, so an earlier task of the same job may create it), the
// directories MLCube creates, the symlink check that every mount resolves
// inside the workspace, and the runtime's command line.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/access/task_user_resolver.h"
#include "agent/config/agent_config.h"
#include "agent/jobs/host_path_access.h"
#include "agent/runtimes/container_runtime.h"
#include "agent/state/state_layout.h"
#include "common/cube.h"
#include "mlcube_remote/v1/jobs.pb.h"

namespace mlcube {

// What every step of job `job_id` knows (the step's own fields unset);
// from `config`: what the admin allows a cube's extra runtime arguments and
// what a task may use; `user` who the tasks run as.
StepContext JobStepContext(const StateLayout& layout, const std::string& job_id,
                           const std::string& owner,
                           const mlcube_remote::v1::SubmitJobRequest& request,
                           const AgentConfig& config, const TaskUser& user);

// The copy of `request` the agent writes to disk: the values of the
// variables copied from the caller (caller_env) are left out, their names
// kept in caller_env_withheld; the agent keeps the values in memory only.
mlcube_remote::v1::SubmitJobRequest WithCallerValuesWithheld(
    const mlcube_remote::v1::SubmitJobRequest& request);

// Gives the steps of a job the GPUs the agent allocated to it: the runtimes
// get these devices (`device=UUID,...`, and StepContext::gpu_devices), not
// the count the request asked for. Nothing changes when `devices` is empty.
void GiveGpus(const std::vector<GpuDevice>& devices, StepContext* context);
// The devices a job's record says it holds, and how they are recorded.
std::vector<GpuDevice> AllocatedDevices(const mlcube_remote::v1::Job& job);
void RecordAllocatedDevices(const std::vector<GpuDevice>& devices, mlcube_remote::v1::Job* job);

struct PlannedTaskStep {
  StepCommand command;
  std::vector<std::string> creates;  // host directories, created first
};

// Real run (context.dry_run false): creates the directories (never through
// a symlink a task planted), gives the cube's workspace the access list of
// the task user (TreeAcl) and makes the directories and files the task
// writes writable by it, then checks that every mount resolves inside
// the workspace (NOT_FOUND / PERMISSION_DENIED, naming the task) and builds
// the command (which may write the step's env file).
// Dry run: creates nothing; a mount that does not exist yet is one of
// `creates` and is not resolved.
absl::StatusOr<PlannedTaskStep> PrepareTaskStep(const Cube& cube, const std::string& task,
                                                ContainerRuntime& runtime,
                                                const StepContext& context);

// After a task step ended: ContainerRuntime::RepairTaskFiles for its
// mounts (nothing for the agent's own uid).
absl::Status RepairTaskFiles(const Cube& cube, const std::string& task, ContainerRuntime& runtime,
                             const StepContext& context);

// What can be checked at submit time: the task exists and no parameter
// leaves the workspace but for the host paths `access` allows. After other
// tasks of the same job, a parameter without a type whose path does not
// exist yet passes: an earlier task may create it. The job's first task
// has no such excuse.
absl::Status CheckTaskAtSubmit(const Cube& cube, const std::string& task, bool after_other_tasks,
                               const HostPathAccess& access);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_JOBS_TASK_STEP_H_
