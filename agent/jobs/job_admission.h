#ifndef MLCUBE_REMOTE_AGENT_JOBS_JOB_ADMISSION_H_
#define MLCUBE_REMOTE_AGENT_JOBS_JOB_ADMISSION_H_

// Whether a job request may become a job on this agent, decided before
// anything is recorded and without any job state: its action and tasks,
// runtime, scheduler and Slurm settings, the cube and the trees it needs,
// image names, each task's parameters as far as they can be known before
// the job runs, its metrics path, who its tasks run as, and what of the
// host's GPUs it needs. Also makes the cube and runtime a job's steps use,
// by the same rules. Stateless: every method is const and thread-safe.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/access/task_user_resolver.h"
#include "agent/config/agent_config.h"
#include "agent/gpus/gpu_request.h"
#include "agent/runtimes/container_runtime.h"
#include "agent/runtimes/runtime_inventory.h"
#include "agent/schedulers/slurm_client.h"
#include "agent/state/state_layout.h"
#include "common/cube.h"
#include "mlcube_remote/v1/jobs.pb.h"

namespace mlcube {

class JobAdmission {
 public:
  // Everything given must outlive the admission.
  JobAdmission(const AgentConfig& config, const StateLayout& layout,
               const RuntimeInventory& inventory, TaskUserResolver* task_users,
               const SlurmClient* slurm);

  // Everything Submit checks before it records a job. Returns what the job
  // needs of the host's GPUs.
  absl::StatusOr<GpuRequest> CheckSubmittable(
      const std::string& owner, const mlcube_remote::v1::SubmitJobRequest& request) const;
  // The runs of a batch share one scheduler (and on Slurm one set of
  // resources: they are one array).
  static absl::Status CheckBatchSchedulers(
      const std::vector<mlcube_remote::v1::SubmitJobRequest>& runs);

  // The cube as the job sees it: the owner's synced tree, the request's
  // platform file, overrides and host defaults, build context and input
  // trees placed; NOT_FOUND when it was never synced.
  absl::StatusOr<Cube> LoadJobCube(const std::string& owner,
                                   const mlcube_remote::v1::SubmitJobRequest& request) const;
  // The runtime of `runtime` on this host (Podman standing in for a missing
  // Docker); FAILED_PRECONDITION when none is installed.
  absl::StatusOr<std::unique_ptr<ContainerRuntime>> MakeRuntime(
      mlcube_remote::v1::Runtime runtime) const;
  // What a job of `cube` asks of this host's GPUs (GpuRequest): nothing on
  // Slurm or on a host without GPUs; INVALID_ARGUMENT when it can never be
  // met here (more GPUs than the host has, a device it lacks).
  absl::StatusOr<GpuRequest> GpuRequestOf(const Cube& cube,
                                          const mlcube_remote::v1::SubmitJobRequest& request) const;
  // Who `owner`'s tasks run as; FAILED_PRECONDITION when the identity has
  // no task uid, or asks a runtime or scheduler that cannot switch users
  // (Apptainer, Slurm) and is not the agent's owner.
  absl::StatusOr<TaskUser> TaskUserFor(const std::string& owner,
                                       const mlcube_remote::v1::SubmitJobRequest& request) const;
  // scheduler / slurm fields of a request: known scheduler, valid settings,
  // Slurm's commands present.
  absl::Status CheckSchedulerRequest(const mlcube_remote::v1::SubmitJobRequest& request) const;
  // The --stage values of a request: host paths resolved (symlinks too) and
  // confined to slurm.shared_dir and slurm.stage_roots, with their DEST.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ResolveStage(
      const mlcube_remote::v1::SubmitJobRequest& request) const;
  // Names this agent among others sharing a container engine: a hash of its
  // state directory (stable across restarts).
  std::string AgentInstance() const;

 private:
  const AgentConfig& config_;
  const StateLayout& layout_;
  const RuntimeInventory& inventory_;
  TaskUserResolver* task_users_;
  const SlurmClient* slurm_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_JOBS_JOB_ADMISSION_H_
