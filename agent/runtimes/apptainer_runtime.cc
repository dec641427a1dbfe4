#include "agent/runtimes/apptainer_runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/runtimes/apptainer_recipe_check.h"
#include "agent/runtimes/build_context.h"
#include "agent/runtimes/mount_spec.h"
#include "agent/subprocess/subprocess.h"
#include "common/file_util.h"
#include "common/safe_path.h"

namespace mlcube {
namespace {

std::string TempSifPath(const Cube& cube, const StepContext& context) {
  return absl::StrCat(ApptainerRuntime::SifPath(cube, context), ".build-", context.job_id);
}

std::string TempDir(const StepContext& context) {
  const std::string& dir = context.scratch_dir;
  if (!context.dry_run) mkdir(dir.c_str(), 0700);
  return dir;
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// run_args and build_args come from the cube, i.e. from the remote caller:
// see RunArgumentPolicy.
absl::Status CheckArgs(const std::vector<std::string>& args, RuntimeStep step, const char* key,
                       const StepContext& context) {
  return RunArgumentPolicy(RuntimeFamily::kApptainer, step, context.host_access).Check(args, key);
}

constexpr int64_t kMaxRecipeBytes = 1 << 20;

// The cube's run arguments, checked, without the variables they copy from
// the caller (RunArgumentPolicy::TakeCopiedVariables): the agent passes
// those itself.
absl::StatusOr<RunArgumentPolicy::CopiedVariables> CheckedRunArgs(const Cube& cube,
                                                                  const StepContext& context) {
  const RunArgumentPolicy policy(RuntimeFamily::kApptainer, RuntimeStep::kRun, context.host_access);
  const std::vector<std::string> args = SplitArgs(cube.singularity.run_args);
  if (absl::Status s = policy.Check(args, "singularity.run_args"); !s.ok()) return s;
  return policy.TakeCopiedVariables(args, "singularity.run_args");
}

// The task container's environment: proxies, the job's env, the variables
// copied from the caller, and the job's GPUs.
absl::StatusOr<std::map<std::string, std::string>> TaskEnvironment(
    const std::vector<std::string>& copied, const StepContext& context,
    std::vector<std::string>* shown_env) {
  auto from_caller = CopiedCallerEnv(copied, "singularity.run_args", context, shown_env);
  if (!from_caller.ok()) return from_caller.status();
  std::map<std::string, std::string> env = ProxyEnvironment();
  for (const auto& [k, v] : context.env) env[k] = v;
  for (const auto& [k, v] : *from_caller) env[k] = v;
  if (!context.gpu_devices.empty()) {
    // The devices the agent gave the job, by nvidia-smi's index: CUDA
    // numbers them the same way only in PCI bus order.
    std::vector<std::string> indices;
    for (const GpuDevice& device : context.gpu_devices) {
      indices.push_back(std::to_string(device.index));
    }
    env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID";
    env["CUDA_VISIBLE_DEVICES"] = absl::StrJoin(indices, ",");
    env["NVIDIA_VISIBLE_DEVICES"] = env["CUDA_VISIBLE_DEVICES"];
  } else if (absl::StartsWith(context.gpus, "device=")) {
    env["CUDA_VISIBLE_DEVICES"] = context.gpus.substr(7);
  }
  return env;
}

}  // namespace

absl::StatusOr<std::string> ApptainerRuntime::ReadCheckedRecipe(const Cube& cube) {
  const std::string& build_file = cube.singularity.build_file;
  auto context =
      BuildContext::OpenForCube(cube, cube.singularity.build_context, "singularity.build_context");
  if (!context.ok()) return context.status();
  auto text = context->ReadFile(build_file, "singularity.build_file", kMaxRecipeBytes);
  if (!text.ok()) return text.status();
  ApptainerRecipeCheck check(
      *text, absl::StrCat("singularity.build_file: ", PrintableExcerpt(build_file)));
  if (absl::Status s = check.Check(*context); !s.ok()) return s;
  return text;
}

absl::Status ApptainerRuntime::CheckCube(const Cube& cube, const StepContext& context) {
  if (absl::Status s = CheckArgs(SplitArgs(cube.singularity.build_args), RuntimeStep::kBuild,
                                 "singularity.build_args", context);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckedRunArgs(cube, context).status(); !s.ok()) return s;
  const std::string& build_file = cube.singularity.build_file;
  if (build_file.empty() || absl::StartsWith(build_file, "docker://") ||
      absl::StartsWith(build_file, "docker-daemon:")) {
    return absl::OkStatus();
  }
  auto text = ReadCheckedRecipe(cube);
  return absl::IsNotFound(text.status()) ? absl::OkStatus() : text.status();
}

bool IsSifFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char magic[9] = {0};
  const bool ok = pread(fd, magic, sizeof(magic), 32) == sizeof(magic) &&
                  memcmp(magic, "SIF_MAGIC", sizeof(magic)) == 0;
  close(fd);
  return ok;
}

std::string ApptainerRuntime::SifPath(const Cube& cube, const StepContext& context) {
  std::string name = BaseName(cube.singularity.image);
  if (name.empty()) name = (cube.name.empty() ? "cube" : cube.name) + std::string(".sif");
  return absl::StrCat(context.image_dir, "/", name);
}

bool ApptainerRuntime::DockerImageExists(const std::string& image) const {
  if (docker_binary_.empty()) return false;
  auto result = RunCommand({docker_binary_, "image", "inspect", "--format", "{{.Id}}", image},
                           absl::Seconds(30));
  return result.ok() && result->status.ShellCode() == 0;
}

bool ApptainerRuntime::NeedsConfigure(const Cube& cube, const StepContext& context) {
  return !IsSifFile(SifPath(cube, context));
}

absl::StatusOr<StepCommand> ApptainerRuntime::ConfigureCommand(const Cube& cube,
                                                               const StepContext& context,
                                                               std::string* notes) {
  StepCommand command;
  std::string source;
  const std::string& build_file = cube.singularity.build_file;
  if (absl::StartsWith(build_file, "docker://")) {
    if (absl::Status s =
            CheckCubeImageName(build_file.substr(strlen("docker://")), "singularity.build_file");
        !s.ok()) {
      return s;
    }
    source = build_file;
  } else if (absl::StartsWith(build_file, "docker-daemon:")) {
    // The identity's own build of that image when it has one; never another
    // identity's (their tags are refused).
    const std::string image = build_file.substr(strlen("docker-daemon:"));
    if (absl::Status s = CheckCubeImageName(image, "singularity.build_file"); !s.ok()) return s;
    const std::string own = OwnerImageTag(context.owner, image);
    source = absl::StrCat("docker-daemon:", DockerImageExists(own) ? own : image);
  } else {
    const std::string recipe = absl::StrCat(cube.singularity.build_context, "/",
                                            build_file.empty() ? "Singularity.recipe" : build_file);
    auto text = build_file.empty() ? absl::StatusOr<std::string>(absl::NotFoundError(""))
                                   : ReadCheckedRecipe(cube);
    if (text.ok()) {
      // The build reads the copy that was checked (a recipe swapped after
      // the check is never read); %files sources resolve against the cwd.
      source = context.step_prefix + ".def";
      if (!context.dry_run) {
        if (absl::Status s = WriteFileAtomically(source, *text, 0600); !s.ok()) return s;
      }
      command.cwd = cube.singularity.build_context;
    } else if (!absl::IsNotFound(text.status())) {
      return text.status();
    } else if (cube.layout == CubeLayout::kLegacy) {
      // That layout's runner builds only from its recipe (as MLCube does).
      return absl::FailedPreconditionError(absl::StrCat(
          "Singularity recipe not found: ", recipe,
          " (MLCube refuses the task: its runner for this layout builds only from that recipe)"));
    } else if (!cube.docker.image.empty()) {
      std::string image = cube.docker.image;
      if (image.find(':', image.rfind('/') == std::string::npos ? 0 : image.rfind('/')) ==
          std::string::npos) {
        image += ":latest";
      }
      if (absl::Status s = CheckCubeImageName(image, "docker.image"); !s.ok()) return s;
      // The identity's own Docker build of the cube, else a pulled image
      // already on the host, else the registry.
      const std::string own = OwnerImageTag(context.owner, cube.docker.image);
      if (DockerImageExists(own)) {
        source = absl::StrCat("docker-daemon:", own);
      } else if (DockerImageExists(image)) {
        source = absl::StrCat("docker-daemon:", image);
      } else {
        source = absl::StrCat("docker://", image);
      }
      absl::StrAppend(notes, "mlcube-agent: no Singularity recipe at ", recipe, "; building from ",
                      source, "\n");
    } else {
      return absl::NotFoundError(
          absl::StrCat("no Singularity recipe at ", recipe, " and no docker.image to convert"));
    }
  }
  command.argv = {binary_, "build", "--force"};
  const std::vector<std::string> build_args = SplitArgs(cube.singularity.build_args);
  absl::Status allowed =
      CheckArgs(build_args, RuntimeStep::kBuild, "singularity.build_args", context);
  if (!allowed.ok()) return allowed;
  for (const std::string& arg : build_args) command.argv.push_back(arg);
  command.argv.push_back(TempSifPath(cube, context));
  command.argv.push_back(source);
  for (const auto& [k, v] : ProxyEnvironment()) command.env[k] = v;
  command.env[absl::StrCat(absl::AsciiStrToUpper(flavour_), "_TMPDIR")] = TempDir(context);
  if (command.cwd.empty()) command.cwd = context.job_dir;
  return command;
}

absl::Status ApptainerRuntime::FinishConfigure(const Cube& cube, const StepContext& context) {
  const std::string tmp = TempSifPath(cube, context);
  const std::string final_path = SifPath(cube, context);
  // Finished before: a restarted agent re-checks a configure step that an
  // earlier agent already installed.
  if (access(tmp.c_str(), F_OK) != 0 && errno == ENOENT && IsSifFile(final_path)) {
    return absl::OkStatus();
  }
  if (!IsSifFile(tmp)) {
    unlink(tmp.c_str());
    return absl::DataLossError(absl::StrCat(
        "the build did not produce a SIF image (no SIF_MAGIC at offset 32 of ", tmp, ")"));
  }
  if (rename(tmp.c_str(), final_path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("rename ", tmp, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

void ApptainerRuntime::AbandonConfigure(const Cube& cube, const StepContext& context) {
  unlink(TempSifPath(cube, context).c_str());
}

absl::StatusOr<StepCommand> ApptainerRuntime::TaskCommand(const Cube& cube,
                                                          const TaskInvocation& invocation,
                                                          const StepContext& context) {
  const std::string sif = SifPath(cube, context);
  if (!context.dry_run && !IsSifFile(sif)) {
    return absl::FailedPreconditionError(absl::StrCat(sif, " is not a SIF image"));
  }
  StepCommand command;
  std::vector<std::string> entry = SplitArgs(invocation.entrypoint);
  std::vector<std::string>& a = command.argv;
  // -q: no INFO chatter about sandboxes in the task's output.
  // --contain: no automatic binds of $HOME (the agent's home holds every
  // owner's data), /tmp or the working directory; only the MLCube mounts.
  // --cleanenv: the agent's environment stays out; the job's env and the
  // proxies are passed explicitly below.
  // --pid: the task gets its own PID namespace, so it sees no host process
  // and every process it starts (setsid, double forks, daemons) dies with
  // it: when the task's init exits, or when a cancel kills the step's
  // process group, the kernel kills the whole namespace.
  a = {binary_, "-q", entry.empty() ? "run" : "exec", "--contain", "--cleanenv", "--pid"};
  for (const Mount& m : invocation.mounts) {
    auto bind =
        MountSpec::Render(MountGrammar::kApptainerBind, m.host_path, m.container_path, m.read_only);
    if (!bind.ok()) return bind.status();
    a.push_back("--bind");
    a.push_back(std::move(*bind));
  }
  // GPUs: asked with --gpus, or by the cube (platform.accelerator_count), as
  // for Docker. MLCube's singularity runner passes --nv only when told
  // (-P singularity.--nv); a cube that asks for accelerators means it here.
  if (!context.gpus.empty() || cube.accelerator_count > 0) a.push_back("--nv");
  auto run_args = CheckedRunArgs(cube, context);
  if (!run_args.ok()) return run_args.status();
  for (const std::string& arg : run_args->args) a.push_back(arg);
  // The admin's limits after the cube's arguments: the last wins.
  if (context.limits.apptainer) {
    if (context.limits.memory_bytes > 0) {
      a.push_back("--memory");
      a.push_back(std::to_string(context.limits.memory_bytes));
    }
    if (context.limits.pids > 0) {
      a.push_back("--pids-limit");
      a.push_back(std::to_string(context.limits.pids));
    }
  }
  a.push_back(sif);
  for (const std::string& e : entry) a.push_back(e);
  for (const std::string& arg : invocation.args) a.push_back(arg);

  // Variables reach the container through PREFIXENV_NAME of the runtime.
  const std::string prefix = absl::StrCat(absl::AsciiStrToUpper(flavour_), "ENV_");
  auto env = TaskEnvironment(run_args->names, context, &command.shown_env);
  if (!env.ok()) return env.status();
  for (const auto& [k, v] : *env) command.env[prefix + k] = v;
  // Without squashfuse every run unpacks the SIF into a temporary sandbox;
  // keep it in the job's directory (removed with the job's scratch) rather
  // than leaking it in /tmp when a cancel kills the runtime. The working
  // directory must be one the agent's user can enter (apptainer binds it).
  command.env[absl::StrCat(absl::AsciiStrToUpper(flavour_), "_TMPDIR")] = TempDir(context);
  command.cwd = cube.workspace;
  return command;
}

}  // namespace mlcube
