#include "agent/jobs/job_admission.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/gpus/gpu_allocator.h"
#include "agent/jobs/build_context_placement.h"
#include "agent/jobs/job_metrics.h"
#include "agent/jobs/task_step.h"
#include "agent/runtimes/apptainer_runtime.h"
#include "agent/runtimes/docker_runtime.h"
#include "agent/validation/request_validator.h"
#include "common/config_tree.h"
#include "common/cube_loader.h"
#include "common/digest.h"
#include "common/file_util.h"
#include "common/repository_inputs.h"
#include "common/safe_path.h"
#include "common/slurm_settings.h"

namespace mlcube {

using mlcube_remote::v1::SubmitJobRequest;

JobAdmission::JobAdmission(const AgentConfig& config, const StateLayout& layout,
                           const RuntimeInventory& inventory, TaskUserResolver* task_users,
                           const SlurmClient* slurm)
    : config_(config),
      layout_(layout),
      inventory_(inventory),
      task_users_(task_users),
      slurm_(slurm) {}

absl::StatusOr<Cube> JobAdmission::LoadJobCube(const std::string& owner,
                                               const SubmitJobRequest& request) const {
  if (absl::Status s = ValidateCubeId(request.cube_id()); !s.ok()) return s;
  const std::string root = layout_.CubeDir(owner, request.cube_id());
  if (!IsDirectory(root)) {
    return absl::NotFoundError(
        absl::StrCat("cube '", request.cube_id(), "' is not on this agent (sync it first)"));
  }
  CubeLoadOptions options;
  options.path = root;
  if (!request.platform_file().empty()) {
    auto platform = JoinConfined(root, request.platform_file());
    if (!platform.ok()) return platform.status();
    options.platform_file = *platform;
  }
  for (const auto& [key, value] : request.overrides()) {
    options.overrides.push_back(absl::StrCat(key, "=", value));
  }
  std::sort(options.overrides.begin(), options.overrides.end());
  // The host's settings from the caller's hosts file sit under the cube's.
  std::map<std::string, std::string> defaults(request.platform_defaults().begin(),
                                              request.platform_defaults().end());
  auto host_defaults = TreeFromKeyPaths(defaults);
  if (!host_defaults.ok()) return host_defaults.status();
  options.host_defaults = *host_defaults;
  // ${oc.env:...} sees the caller's variables, never the agent's environment.
  options.environment.emplace(request.env().begin(), request.env().end());
  auto cube = LoadCube(options);
  if (!cube.ok()) return cube.status();
  // A remote caller must not point the agent at host paths: the workspace
  // stays the cube's own; a build context outside the cube is the tree the
  // caller synced for it, or none (PlaceBuildContexts).
  if (NormalizePath(cube->workspace) != NormalizePath(root + "/workspace")) {
    return absl::InvalidArgumentError(
        "runtime.workspace cannot be changed on the agent (the workspace is the synced one)");
  }
  const std::string context_dir =
      request.build_context_id().empty() ? "" : layout_.CubeDir(owner, request.build_context_id());
  if (absl::Status s = PlaceBuildContexts(root, context_dir, &*cube); !s.ok()) return s;
  // Inputs from the cube's repository, outside the cube: the trees the
  // caller synced for them.
  std::map<std::string, std::string> trees;
  for (const auto& [dir, id] : request.input_trees()) trees[dir] = layout_.CubeDir(owner, id);
  PlaceRepositoryInputs(trees, &*cube);
  return cube;
}

std::string JobAdmission::AgentInstance() const {
  return DigestOf(layout_.root()).hash().substr(0, 16);
}

absl::StatusOr<std::unique_ptr<ContainerRuntime>> JobAdmission::MakeRuntime(
    mlcube_remote::v1::Runtime runtime) const {
  switch (runtime) {
    case mlcube_remote::v1::RUNTIME_UNSPECIFIED:
    case mlcube_remote::v1::RUNTIME_DOCKER:
    case mlcube_remote::v1::RUNTIME_PODMAN: {
      const std::string name = runtime == mlcube_remote::v1::RUNTIME_PODMAN ? "podman" : "docker";
      const DetectedRuntime* found = inventory_.Find(name);
      bool stands_in = false;
      if (!found && name == "docker" && (found = inventory_.Find("podman")) != nullptr) {
        stands_in = true;  // a Podman-only host (RHEL, Rocky): same command line
      }
      if (!found) {
        return absl::FailedPreconditionError(
            absl::StrCat("runtime ", name,
                         " is not installed on this agent (or disabled in its "
                         "config)"));
      }
      EngineHost host = DetectEngineHost(found->name);
      host.stands_in_for_docker = stands_in;
      // DOCKER_HOST steers the CLI to another engine than the socket's.
      if (getenv("DOCKER_HOST") == nullptr) host.api_socket = found->api_socket;
      return std::unique_ptr<ContainerRuntime>(
          new DockerRuntime(found->name, found->binary, AgentInstance(), host));
    }
    case mlcube_remote::v1::RUNTIME_SINGULARITY: {
      const DetectedRuntime* found = inventory_.FindSingularity();
      if (!found) {
        return absl::FailedPreconditionError(
            "neither apptainer nor singularity is installed on this agent (tools/"
            "install-apptainer.sh installs Apptainer)");
      }
      const DetectedRuntime* docker = inventory_.Find("docker");
      return std::unique_ptr<ContainerRuntime>(
          new ApptainerRuntime(found->name, found->binary, docker ? docker->binary : ""));
    }
    default:
      return absl::InvalidArgumentError("unknown runtime");
  }
}

absl::StatusOr<TaskUser> JobAdmission::TaskUserFor(const std::string& owner,
                                                   const SubmitJobRequest& request) const {
  auto user = task_users_->Resolve(owner);
  if (!user.ok() || user->agent_owner) return user;
  // Apptainer and Slurm run everything as the agent's user: neither can
  // switch to another uid without root.
  const bool apptainer = request.runtime() == mlcube_remote::v1::RUNTIME_SINGULARITY;
  if (apptainer || request.scheduler() == "slurm") {
    return absl::FailedPreconditionError(absl::StrCat(
        apptainer ? "Apptainer/Singularity" : "the Slurm scheduler",
        " runs tasks as the agent's own user, so this shared agent runs them only for its owner; "
        "run your own agent on the host (mlcube-remote agent install --host=H) and use it"));
  }
  return user;
}

absl::Status JobAdmission::CheckSchedulerRequest(const SubmitJobRequest& request) const {
  if (request.scheduler().empty() || request.scheduler() == "local") {
    if (!request.stage().empty()) {
      return absl::InvalidArgumentError("--stage needs a Slurm host (scheduler: slurm)");
    }
    if (!request.slurm().empty()) {
      return absl::InvalidArgumentError("slurm settings given but the scheduler is local");
    }
    return absl::OkStatus();
  }
  if (request.scheduler() != "slurm") {
    return absl::InvalidArgumentError(
        absl::StrCat("scheduler: unknown '", request.scheduler(), "' (expected local or slurm)"));
  }
  if (request.runtime() != mlcube_remote::v1::RUNTIME_SINGULARITY) {
    return absl::InvalidArgumentError(
        "scheduler slurm runs tasks with Apptainer/Singularity (set runtime: singularity)");
  }
  if (config_.slurm_shared_dir.empty()) {
    return absl::FailedPreconditionError(
        "this agent is not set up for Slurm: set slurm.shared_dir in its config to a directory "
        "the compute nodes share (e.g. $SCRATCH/mlcube) holding its state_dir and image_dir");
  }
  auto settings = ParseSlurmSettings(
      std::map<std::string, std::string>(request.slurm().begin(), request.slurm().end()));
  if (!settings.ok()) return settings.status();
  auto options = SbatchResourceOptions(*settings, request.gpus());
  if (!options.ok()) return options.status();
  auto stage = ResolveStage(request);
  if (!stage.ok()) return stage.status();
  return slurm_->CheckInstalled();
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> JobAdmission::ResolveStage(
    const SubmitJobRequest& request) const {
  std::vector<std::pair<std::string, std::string>> stage;
  std::vector<std::string> roots = {config_.slurm_shared_dir};
  roots.insert(roots.end(), config_.slurm_stage_roots.begin(), config_.slurm_stage_roots.end());
  for (const std::string& value : request.stage()) {
    auto spec = ParseStageSpec(value);
    if (!spec.ok()) return spec.status();
    // Resolved here, symlinks included: only what the agent's config opens.
    const std::string real = ResolvedPath(spec->path);
    bool allowed = false;
    for (const std::string& root : roots) {
      const std::string real_root = ResolvedPath(root);
      allowed = allowed || (!real.empty() && !real_root.empty() && IsWithin(real, real_root));
    }
    if (real.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--stage: ", spec->path, " does not exist"));
    }
    if (!allowed) {
      return absl::PermissionDeniedError(absl::StrCat(
          "--stage: ", spec->path, " is outside the directories this agent stages from (",
          absl::StrJoin(roots, ", "), "; add more with slurm.stage_roots in its config)"));
    }
    for (const auto& [unused, dest] : stage) {
      if (dest == spec->dest) {
        return absl::InvalidArgumentError(absl::StrCat("--stage: ", dest, " given twice"));
      }
    }
    stage.emplace_back(real, spec->dest);
  }
  return stage;
}

absl::StatusOr<GpuRequest> JobAdmission::GpuRequestOf(const Cube& cube,
                                                      const SubmitJobRequest& request) const {
  if (request.scheduler() == "slurm" || inventory_.gpus().empty()) return GpuRequest{};
  absl::StatusOr<GpuRequest> asked = ParseGpuRequest(request.gpus(), cube.accelerator_count);
  if (!asked.ok()) return asked.status();
  if (absl::Status s = GpuAllocator(inventory_.gpus()).CheckFits(*asked); !s.ok()) return s;
  return asked;
}

absl::StatusOr<GpuRequest> JobAdmission::CheckSubmittable(const std::string& owner,
                                                          const SubmitJobRequest& request) const {
  if (request.action() != mlcube_remote::v1::JOB_ACTION_CONFIGURE &&
      request.action() != mlcube_remote::v1::JOB_ACTION_RUN) {
    return absl::InvalidArgumentError("action must be configure or run");
  }
  if (request.action() == mlcube_remote::v1::JOB_ACTION_RUN && request.tasks().empty()) {
    return absl::InvalidArgumentError("run needs at least one task");
  }
  absl::StatusOr<TaskUser> user = TaskUserFor(owner, request);
  if (!user.ok()) return user.status();
  auto runtime = MakeRuntime(request.runtime());
  if (!runtime.ok()) return runtime.status();
  if (absl::Status s = CheckSchedulerRequest(request); !s.ok()) return s;
  auto cube = LoadJobCube(owner, request);
  if (!cube.ok()) return cube.status();
  if (!request.build_context_id().empty() &&
      !IsDirectory(layout_.CubeDir(owner, request.build_context_id()))) {
    return absl::NotFoundError(absl::StrCat("build context '", request.build_context_id(),
                                            "' is not on this agent (push it first)"));
  }
  for (const auto& [dir, id] : request.input_trees()) {
    if (!IsDirectory(layout_.CubeDir(owner, id))) {
      return absl::NotFoundError(
          absl::StrCat("input tree '", id, "' (", dir, ") is not on this agent (push it first)"));
    }
  }
  if (absl::Status s = CheckCubeImageName(cube->docker.image, "docker.image"); !s.ok()) return s;
  for (const char* scheme : {"docker-daemon:", "docker://"}) {
    const std::string& source = cube->singularity.build_file;
    if (!absl::StartsWith(source, scheme)) continue;
    if (absl::Status s =
            CheckCubeImageName(source.substr(strlen(scheme)), "singularity.build_file");
        !s.ok()) {
      return s;
    }
  }
  // What the cube asks of the runtime (recipe, extra arguments) is refused
  // here, before it gets a job.
  StepContext checks;
  checks.owner = owner;
  checks.gpus = request.gpus();
  checks.env.insert(request.env().begin(), request.env().end());
  checks.host_access = config_.allow;
  if (absl::Status s = (*runtime)->CheckCube(*cube, checks); !s.ok()) return s;
  if (request.action() == mlcube_remote::v1::JOB_ACTION_RUN) {
    for (int i = 0; i < request.tasks_size(); ++i) {
      const HostPathAccess access(user->uid == geteuid(), config_.allow.bind_roots, layout_.root());
      if (absl::Status s = CheckTaskAtSubmit(*cube, request.tasks(i), i > 0, access); !s.ok()) {
        return s;
      }
    }
  }
  if (absl::Status s = JobMetrics::CheckPath(*cube, request); !s.ok()) return s;
  return GpuRequestOf(*cube, request);
}

absl::Status JobAdmission::CheckBatchSchedulers(const std::vector<SubmitJobRequest>& runs) {
  auto scheduler = [](const SubmitJobRequest& r) {
    return r.scheduler().empty() ? std::string("local") : r.scheduler();
  };
  auto resources = [](const SubmitJobRequest& r) {
    std::map<std::string, std::string> slurm(r.slurm().begin(), r.slurm().end());
    return absl::StrCat(absl::StrJoin(slurm, "\n", absl::PairFormatter("=")), "\n", r.gpus(), "\n",
                        absl::StrJoin(r.stage(), "\n"));
  };
  for (size_t i = 1; i < runs.size(); ++i) {
    if (scheduler(runs[i]) != scheduler(runs[0])) {
      return absl::InvalidArgumentError(absl::StrCat("runs[", i, "]: scheduler ",
                                                     scheduler(runs[i]), " differs from runs[0]'s ",
                                                     scheduler(runs[0])));
    }
    if (scheduler(runs[0]) == "slurm" && resources(runs[i]) != resources(runs[0])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "runs[", i,
          "]: slurm settings, gpus or stage differ from runs[0]'s (the runs of one batch are one "
          "Slurm job array, with one set of resources)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace mlcube
