#ifndef MLCUBE_REMOTE_AGENT_RUNTIMES_CONTAINER_RUNTIME_H_
#define MLCUBE_REMOTE_AGENT_RUNTIMES_CONTAINER_RUNTIME_H_

// A container runtime as the job manager sees it: it turns a cube and a
// planned task invocation into command lines (run detached by the
// TaskSupervisor) and knows whether the cube's image is ready. One
// implementation per kind: DockerRuntime (docker and podman) and
// ApptainerRuntime (apptainer and singularity).

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/gpus/gpu_inventory.h"
#include "agent/runtimes/run_argument_policy.h"
#include "common/cube.h"
#include "common/mount_planner.h"

namespace mlcube {

// What a step needs to know about its job.
struct StepContext {
  std::string job_id;
  // The identity that submitted the job ("uid-1000", "cn-alice").
  std::string owner;
  int step = 0;
  // The uid and gid tasks run as (TaskUserResolver): the agent's own for its
  // owner, the identity's task uid for everyone else on a shared agent.
  uid_t uid = 0;
  gid_t gid = 0;
  // The agent's euid (it keeps access to the task's files through ACLs).
  uid_t agent_uid = 0;
  // The task environment from the request (also build args for builds).
  std::map<std::string, std::string> env;
  // Variables the cube copies from the caller's environment (-e NAME), with
  // the caller's values: only the task's container gets them, never argv.
  std::map<std::string, std::string> caller_env;
  // Names whose copied values the agent no longer has: it keeps them in
  // memory only and restarted since the submit. A task copying one fails.
  std::set<std::string> caller_env_withheld;
  // "" none, "all", a count or "device=0,1".
  std::string gpus;
  // The devices the agent allocated to the job (then `gpus` names exactly
  // these); empty where it allocates none (Slurm, a host without GPUs).
  std::vector<GpuDevice> gpu_devices;
  // Where SIF images go (the agent's image dir, per owner).
  std::string image_dir;
  // The agent's state directory: never a host path a task mounts.
  std::string state_dir;
  // The job's own directory; its runtime scratch space (removed when the
  // job ends); the prefix of this step's files (PREFIX.env, ...).
  std::string job_dir;
  std::string scratch_dir;
  std::string step_prefix;
  // Host access the admin lets a cube's extra runtime arguments ask for.
  HostAccessPolicy host_access;
  // What each task container may use (IdentityLimits::task_*): memory in
  // bytes and processes, 0 = no limit; `apptainer` when Apptainer gets them
  // too.
  struct TaskLimits {
    int64_t memory_bytes = 0;
    int pids = 0;
    bool apptainer = false;
  } limits;
  // Only the command lines are wanted (run --dry-run): nothing is written,
  // and the image need not exist yet.
  bool dry_run = false;
};

// Entries of one writable mount of a task that the task's uid owns (the
// topmost ones: nothing below them is listed): paths relative to the mount,
// "" for the mount itself.
struct TaskOwnedPaths {
  std::string host_path;
  std::vector<std::string> rels;
};

// Containers frozen by ContainerRuntime::FreezeTasksOf; destroying it
// thaws them.
class FrozenTasks {
 public:
  virtual ~FrozenTasks() = default;
};

struct StepCommand {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // for the runtime binary itself
  std::string cwd;
  // Name of the container the step creates (to stop it on cancel), if any.
  std::string container_name;
  // Set when the step's `run` is to be followed through the engine's API
  // on this socket (SupervisedCommand::engine_socket); argv stays the
  // `run` it is equivalent to, as logs and dry runs show it.
  std::string engine_socket;
  // What the container's environment gets that argv does not show, as it
  // may be shown (job log, --dry-run): "NAME=<from your environment>" for
  // each variable copied from the caller.
  std::vector<std::string> shown_env;
  // What the user should know about how this host runs the step (one
  // line each, no "mlcube-agent: " prefix): the job's log and the dry-run
  // plan show them.
  std::vector<std::string> notes;
};

class ContainerRuntime {
 public:
  virtual ~ContainerRuntime() = default;

  // "docker", "podman", "apptainer" or "singularity".
  virtual std::string name() const = 0;

  // Checks at submit what the cube asks of this runtime (image names, a
  // recipe confined to its build context): INVALID_ARGUMENT naming the key.
  // Configure and task commands check again.
  virtual absl::Status CheckCube(const Cube& cube, const StepContext& context) {
    return absl::OkStatus();
  }

  // True when `run` must configure first: no usable image yet, or the cube
  // asks to rebuild every time (build_strategy: always).
  virtual bool NeedsConfigure(const Cube& cube, const StepContext& context) = 0;

  // The build or pull command; an error when there is nothing to build from.
  // `notes` gets human-readable lines for the job log (what was chosen, why).
  virtual absl::StatusOr<StepCommand> ConfigureCommand(const Cube& cube, const StepContext& context,
                                                       std::string* notes) = 0;

  // Runs after a successful configure step (e.g. checks and installs a SIF).
  virtual absl::Status FinishConfigure(const Cube& cube, const StepContext& context) {
    return absl::OkStatus();
  }

  // Runs after a failed configure step (e.g. removes a partial image).
  virtual void AbandonConfigure(const Cube& cube, const StepContext& context) {}

  virtual absl::StatusOr<StepCommand> TaskCommand(const Cube& cube,
                                                  const TaskInvocation& invocation,
                                                  const StepContext& context) = 0;

  // After a task step of a task uid other than the agent's: lets the agent
  // read and remove what the task wrote in its writable mounts (files it
  // made 0600, or chmodded away), by running a short container as the task
  // uid over `owned`: the topmost entries of each mount that the task uid
  // owns. An error says why it could not (the caller notes it in the job
  // log).
  virtual absl::Status RepairTaskFiles(const Cube& cube, const std::vector<TaskOwnedPaths>& owned,
                                       const StepContext& context) {
    return absl::OkStatus();
  }

  // Stops a step's container (best effort; the caller also kills the
  // step's process group).
  virtual void StopContainer(const std::string& container_name) {}

  // A mount source is checked by the agent, then resolved again by name
  // when the runtime mounts it: a task that can write a parent of a source
  // could swap it for a link in between. So while a step of a task uid
  // other than the agent's is checked and started, every other running
  // container of `owner` is frozen (none of its tasks runs) and the
  // returned object thaws them when destroyed. Only tasks in containers
  // can reach a workspace (the state directory is the agent's alone).
  // nullptr: nothing to freeze (the tasks run as the agent's uid).
  virtual std::unique_ptr<FrozenTasks> FreezeTasksOf(const std::string& owner) { return nullptr; }
  // Waits until the step's container `container_name` runs (its mounts are
  // in place) or `ended()` says the step is over; false after `timeout`.
  virtual bool WaitUntilStarted(const std::string& container_name, absl::Duration timeout,
                                const std::function<bool()>& ended) {
    return true;
  }
  // At start-up: thaws containers a previous agent froze and could not
  // thaw (it died while a step started).
  virtual void ThawLeftFrozen() {}
};

// Proxy variables of the agent's environment (http_proxy, HTTPS_PROXY ...),
// passed to builds and tasks so they work behind the same proxy.
std::map<std::string, std::string> ProxyEnvironment();

// The variables a task copies from the caller (`copied`, from
// RunArgumentPolicy::TakeCopiedVariables, `key` the cube key they came
// from): NAME -> the caller's value, for the container's environment only.
// Adds each to `shown_env` as "NAME=<from your environment>", or "NAME (not
// set in your environment: left out)" when the caller has none (the task
// starts without it, as docker does). FAILED_PRECONDITION naming the
// variable when its value was lost in an agent restart.
absl::StatusOr<std::map<std::string, std::string>> CopiedCallerEnv(
    const std::vector<std::string>& copied, const std::string& key, const StepContext& context,
    std::vector<std::string>* shown_env);

// Splits extra arguments written in a cube ("--shm-size=1g -e A=B") on
// whitespace.
std::vector<std::string> SplitArgs(const std::string& text);

// Images the agent builds from a cube's recipe are tagged per identity,
// "mlcube-local/<owner>:<image>-<hash>", so one identity's build can never
// stand in for the image another identity's cube names (a shared tag would
// let alice run her code in bob's job, with bob's data mounted). Pulled
// images keep their registry names: their content comes from the registry.
std::string OwnerImageTag(const std::string& owner, const std::string& image);
// INVALID_ARGUMENT, naming `key`, unless `image` is a registry-style name
// (CheckImageReference: never a local image ID) outside the agent's own
// "mlcube-local/" namespace: a cube may not name another identity's build.
// An empty name passes (the runtime says when it needs one).
absl::Status CheckCubeImageName(const std::string& image, const char* key);

// The container name of a job's step: derived from the job id, so a
// restarted agent finds it again.
std::string ContainerName(const std::string& job_id, int step);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_RUNTIMES_CONTAINER_RUNTIME_H_
