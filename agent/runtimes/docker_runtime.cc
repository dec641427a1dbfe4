#include "agent/runtimes/docker_runtime.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "agent/config/agent_config.h"
#include "agent/engine/container_session.h"
#include "agent/engine/engine_connection.h"
#include "agent/runtimes/build_context.h"
#include "agent/runtimes/dockerfile_check.h"
#include "agent/runtimes/image_reference.h"
#include "agent/runtimes/mount_spec.h"
#include "agent/subprocess/subprocess.h"
#include "common/file_util.h"
#include "common/safe_path.h"

namespace mlcube {

namespace {

// Every container of a task (and of its repair step) says whose it is, so
// FreezeTasksOf finds an identity's running containers.
constexpr char kOwnerLabel[] = "mlcube-agent.owner";
constexpr char kInstanceLabel[] = "mlcube-agent.instance";

constexpr char kStandsInForDocker[] =
    "docker is not installed on this agent; podman runs the cube's docker settings";

// Asks the engine directly (GET /images/NAME/json on its API socket):
// about 1 ms, where running the docker CLI costs tens of milliseconds on
// every task launch. Returns nullopt when the socket cannot be used.
std::optional<bool> ImageExistsViaEngineSocket(const std::string& socket_path,
                                               const std::string& image) {
  for (char c : image) {  // an image reference never needs escaping
    if (!(isalnum(static_cast<unsigned char>(c)) || strchr("/:._-@", c))) return std::nullopt;
  }
  auto connection = EngineConnection::Open(socket_path, absl::Seconds(5));
  if (!connection.ok()) return std::nullopt;
  auto head = connection->Exchange("GET", absl::StrCat("/images/", image, "/json"));
  if (!head.ok()) return std::nullopt;
  if (head->status == 200) return true;
  if (head->status == 404) return false;
  return std::nullopt;
}

}  // namespace

bool DockerRuntime::ImageExists(const std::string& image) const {
  // Docker's socket is asked even where tasks are followed through the CLI.
  const std::string socket = !host_.api_socket.empty() ? host_.api_socket
                             : flavour_ == "docker" && getenv("DOCKER_HOST") == nullptr
                                 ? kDefaultDockerSocket
                                 : "";
  if (!socket.empty()) {
    std::optional<bool> exists = ImageExistsViaEngineSocket(socket, image);
    if (exists.has_value()) return *exists;
  }
  auto result =
      RunCommand({binary_, "image", "inspect", "--format", "{{.Id}}", image}, absl::Seconds(30));
  return result.ok() && result->status.ShellCode() == 0;
}

namespace {

constexpr int64_t kMaxRecipeBytes = 1 << 20;

std::string BuildFileName(const Cube& cube) {
  return cube.docker.build_file.empty() ? "Dockerfile" : cube.docker.build_file;
}

// The --build-arg values of the cube's build: its docker.build_args (with
// -P overrides), the proxies, then the job's environment.
std::map<std::string, std::string> BuildArgs(const Cube& cube, const StepContext& context) {
  std::map<std::string, std::string> build_args = cube.docker.build_args;
  for (const auto& [k, v] : ProxyEnvironment()) build_args.emplace(k, v);
  for (const auto& [k, v] : context.env) build_args[k] = v;
  return build_args;
}

// The cube's Dockerfile, read beneath its build context: NOT_FOUND when it
// has none, INVALID_ARGUMENT naming docker.build_file when the name leads
// outside (another identity's files, the agent's key) or an image it
// builds on is refused (with the build's arguments, DockerfileCheck).
absl::StatusOr<std::string> ReadRecipe(const Cube& cube, const StepContext& step) {
  auto context = BuildContext::OpenForCube(cube, cube.docker.build_context, "docker.build_context");
  if (!context.ok()) return context.status();
  auto recipe = context->ReadFile(BuildFileName(cube), "docker.build_file", kMaxRecipeBytes);
  if (!recipe.ok()) return recipe;
  DockerfileCheck check(absl::StrCat("docker.build_file: ", PrintableExcerpt(BuildFileName(cube))),
                        BuildArgs(cube, step));
  if (absl::Status s = check.Check(*recipe); !s.ok()) return s;
  return recipe;
}

// True: build from the recipe; false: pull; an error: the recipe is refused.
absl::StatusOr<bool> BuildsFromRecipe(const Cube& cube, const StepContext& context) {
  if (cube.docker.build_strategy == BuildStrategy::kPull) return false;
  auto recipe = ReadRecipe(cube, context);
  if (absl::IsNotFound(recipe.status())) return false;
  if (!recipe.ok()) return recipe.status();
  return true;
}

// Extra `run` arguments come from the cube, i.e. from the remote caller
// (the agent's docker group is root-equivalent): see RunArgumentPolicy.
// As MLCube: cpu_args without GPUs, gpu_args when the request or the cube's
// platform.accelerator_count asks for GPUs; only the arguments that are
// used are checked (and passed).
// Variables `-e NAME` copies from the caller are taken out of the
// arguments (the docker client would read the agent's environment) and
// given through the task's env file (TaskCommand).
struct ExtraArgs {
  std::vector<std::string> run, env;
  std::string run_key;
  std::vector<std::string> copied_run, copied_env;
};

absl::StatusOr<ExtraArgs> CheckedExtraArgs(const Cube& cube, const StepContext& context) {
  const bool gpus = !DockerGpuSpec(cube.accelerator_count, context.gpus).empty();
  ExtraArgs extra;
  extra.run_key = gpus ? "docker.gpu_args" : "docker.cpu_args";
  const RunArgumentPolicy policy(RuntimeFamily::kDocker, RuntimeStep::kRun, context.host_access);
  const std::vector<std::string> run =
      SplitArgs(gpus ? cube.docker.gpu_args : cube.docker.cpu_args);
  const std::vector<std::string> env = SplitArgs(cube.docker.env_args);
  if (absl::Status s = policy.Check(run, extra.run_key); !s.ok()) return s;
  if (absl::Status s = policy.Check(env, "docker.env_args"); !s.ok()) return s;
  auto run_split = policy.TakeCopiedVariables(run, extra.run_key);
  if (!run_split.ok()) return run_split.status();
  auto env_split = policy.TakeCopiedVariables(env, "docker.env_args");
  if (!env_split.ok()) return env_split.status();
  extra.run = std::move(run_split->args);
  extra.copied_run = std::move(run_split->names);
  extra.env = std::move(env_split->args);
  extra.copied_env = std::move(env_split->names);
  return extra;
}

// The caller's values of the variables the cube copies, for the env file
// only: a value with a line break cannot be written there, and argv is
// readable by every user, so it is refused.
absl::StatusOr<std::map<std::string, std::string>> CopiedEnvForFile(
    const ExtraArgs& extra, const StepContext& context, std::vector<std::string>* shown) {
  auto copied = CopiedCallerEnv(extra.copied_run, extra.run_key, context, shown);
  if (!copied.ok()) return copied.status();
  auto from_env_args = CopiedCallerEnv(extra.copied_env, "docker.env_args", context, shown);
  if (!from_env_args.ok()) return from_env_args.status();
  copied->insert(from_env_args->begin(), from_env_args->end());
  for (const auto& [name, value] : *copied) {
    if (value.find_first_of("\r\n") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(name,
                       " (copied from your environment): a value with a line break cannot "
                       "be passed to a docker task without showing it on its command line"));
    }
  }
  return copied;
}

// `--build-arg NAME=VALUE` is split at the first '=': a cube's name holding
// one would set another argument (the job's own, given after it, included).
absl::Status CheckBuildArgNames(const Cube& cube) {
  for (const auto& [name, unused] : cube.docker.build_args) {
    bool plain = !name.empty();
    for (const char c : name) {
      plain = plain && (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                        c == '-' || c == '.');
    }
    if (!plain) {
      return absl::InvalidArgumentError(absl::StrCat("docker.build_args.", PrintableExcerpt(name),
                                                     ": a build argument name is letters, digits, "
                                                     "'_', '-' and '.'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string DockerGpuSpec(int accelerator_count, const std::string& gpus) {
  if (!gpus.empty()) return gpus;
  return accelerator_count > 0 ? std::to_string(accelerator_count) : "";
}

std::string DockerRuntime::ImageFor(const Cube& cube, const StepContext& context) const {
  // (A refused recipe never gets this far: submit and configure refuse it.)
  auto builds = BuildsFromRecipe(cube, context);
  return builds.ok() && *builds ? OwnerImageTag(context.owner, cube.docker.image)
                                : cube.docker.image;
}

std::string DockerRuntime::PulledImage(const Cube& cube) const {
  // Podman finds a local image by its short name whatever its registry
  // (as Docker does), so runs and checks use the cube's name as given.
  return flavour_ == "podman" ? DockerHubQualified(cube.docker.image) : cube.docker.image;
}

EngineHost DetectEngineHost(const std::string& flavour) {
  EngineHost host;
  host.rootless = flavour == "podman" && geteuid() != 0;
  host.network = !host.rootless || access("/dev/net/tun", R_OK | W_OK) == 0;
  return host;
}

std::vector<std::string> PodmanCdiDevices(const std::string& spec,
                                          const std::vector<GpuDevice>& devices) {
  constexpr char kKind[] = "nvidia.com/gpu=";
  std::vector<std::string> names;
  if (spec.empty()) return names;
  if (!devices.empty()) {
    for (const GpuDevice& device : devices) names.push_back(absl::StrCat(kKind, device.index));
    return names;
  }
  if (spec == "all") return {absl::StrCat(kKind, "all")};
  int count = 0;
  if (absl::SimpleAtoi(spec, &count)) {
    for (int i = 0; i < count; ++i) names.push_back(absl::StrCat(kKind, i));
    return names;
  }
  const absl::string_view list = absl::StripPrefix(absl::StripPrefix(spec, "\""), "device=");
  for (absl::string_view id : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    names.push_back(absl::StrCat(kKind, absl::StripSuffix(id, "\"")));
  }
  return names;
}

absl::Status DockerRuntime::CheckCube(const Cube& cube, const StepContext& context) {
  if (absl::Status s = CheckCubeImageName(cube.docker.image, "docker.image"); !s.ok()) return s;
  if (absl::Status s = CheckBuildArgNames(cube); !s.ok()) return s;
  if (absl::Status s = BuildsFromRecipe(cube, context).status(); !s.ok()) return s;
  return CheckedExtraArgs(cube, context).status();
}

bool DockerRuntime::NeedsConfigure(const Cube& cube, const StepContext& context) {
  if (cube.docker.build_strategy == BuildStrategy::kAlways) return true;
  // A refused image name or recipe is reported by the configure step.
  if (!CheckCube(cube, context).ok()) return true;
  return !ImageExists(ImageFor(cube, context));
}

absl::StatusOr<StepCommand> DockerRuntime::ConfigureCommand(const Cube& cube,
                                                            const StepContext& context,
                                                            std::string* notes) {
  if (cube.docker.image.empty()) {
    return absl::FailedPreconditionError("the cube sets no docker.image");
  }
  if (absl::Status s = CheckCubeImageName(cube.docker.image, "docker.image"); !s.ok()) return s;
  StepCommand command;
  if (host_.stands_in_for_docker)
    absl::StrAppend(notes, "mlcube-agent: ", kStandsInForDocker, "\n");
  auto recipe = cube.docker.build_strategy == BuildStrategy::kPull
                    ? absl::StatusOr<std::string>(absl::NotFoundError("pull"))
                    : ReadRecipe(cube, context);
  if (absl::IsNotFound(recipe.status())) {
    if (cube.docker.build_strategy != BuildStrategy::kPull) {
      absl::StrAppend(notes, "mlcube-agent: no recipe at ", cube.docker.build_context, "/",
                      BuildFileName(cube), "; pulling ", cube.docker.image, "\n");
    }
    command.argv = {binary_, "pull", PulledImage(cube)};
    return command;
  }
  if (!recipe.ok()) return recipe.status();
  if (absl::Status s = CheckBuildArgNames(cube); !s.ok()) return s;
  // The build reads the copy that was checked, so a recipe swapped for a
  // symlink after the check is never read.
  const std::string recipe_copy = context.step_prefix + ".Dockerfile";
  if (!context.dry_run) {
    if (absl::Status s = WriteFileAtomically(recipe_copy, *recipe, 0600); !s.ok()) return s;
  }
  // --force-rm: a failing step leaves no intermediate container behind.
  const std::string tag = OwnerImageTag(context.owner, cube.docker.image);
  absl::StrAppend(notes, "mlcube-agent: building ", cube.docker.image, " as ", tag,
                  " (builds are private to each identity)\n");
  command.argv = {binary_, "build", "--force-rm", "-t", tag, "-f", recipe_copy};
  if (!host_.network) command.argv.push_back("--network=none");
  for (const auto& [k, v] : BuildArgs(cube, context)) {
    command.argv.push_back("--build-arg");
    command.argv.push_back(absl::StrCat(k, "=", v));
  }
  command.argv.push_back(cube.docker.build_context);
  return command;
}

void AppendTaskLimits(const StepContext::TaskLimits& limits, std::vector<std::string>* argv) {
  if (limits.memory_bytes > 0) {
    // Swap included: the limit is what the task may hold, not what it may
    // push out to disk.
    argv->push_back(absl::StrCat("--memory=", limits.memory_bytes));
    argv->push_back(absl::StrCat("--memory-swap=", limits.memory_bytes));
  }
  if (limits.pids > 0) argv->push_back(absl::StrCat("--pids-limit=", limits.pids));
}

absl::StatusOr<StepCommand> DockerRuntime::TaskCommand(const Cube& cube,
                                                       const TaskInvocation& invocation,
                                                       const StepContext& context) {
  if (absl::Status s = CheckCubeImageName(cube.docker.image, "docker.image"); !s.ok()) return s;
  StepCommand command;
  command.container_name = ContainerName(context.job_id, context.step);
  std::vector<std::string>& a = command.argv;
  a = {binary_,
       "run",
       "--rm",
       "--name",
       command.container_name,
       "--user",
       absl::StrCat(context.uid, ":", context.gid)};
  const std::vector<std::string> labels = AgentLabels(context);
  a.insert(a.end() - 2, labels.begin(), labels.end());
  AppendEngineHostArgs(&a, &command.notes);
  for (const Mount& m : invocation.mounts) {
    auto volume =
        MountSpec::Render(MountGrammar::kDockerVolume, m.host_path, m.container_path, m.read_only);
    if (!volume.ok()) return volume.status();
    a.push_back("--volume");
    a.push_back(std::move(*volume));
  }
  // The task's environment goes through a 0600 file in the job dir: values
  // may be secrets and argv is readable by every user. (Not through the
  // docker client's own environment: DOCKER_HOST or LD_PRELOAD there would
  // steer the client itself.) A value with a newline cannot be written to
  // an env file, nor one with a carriage return (the env file's reader drops
  // it at a line end): those go on the command line.
  auto extra = CheckedExtraArgs(cube, context);
  if (!extra.ok()) return extra.status();
  auto copied = CopiedEnvForFile(*extra, context, &command.shown_env);
  if (!copied.ok()) return copied.status();
  std::map<std::string, std::string> env = ProxyEnvironment();
  for (const auto& [k, v] : context.env) env[k] = v;
  for (const auto& [k, v] : *copied) env[k] = v;
  std::string env_file_text;
  for (const auto& [k, v] : env) {
    if (v.find_first_of("\r\n") == std::string::npos && k.find('\n') == std::string::npos) {
      absl::StrAppend(&env_file_text, k, "=", v, "\n");
    } else {
      a.push_back("--env");
      a.push_back(absl::StrCat(k, "=", v));
    }
  }
  if (!env_file_text.empty()) {
    const std::string env_file = context.step_prefix + ".env";
    if (!context.dry_run) {
      absl::Status written = WriteFileAtomically(env_file, env_file_text, 0600);
      if (!written.ok()) return written;
    }
    a.push_back("--env-file");
    a.push_back(env_file);
  }
  // As MLCube's docker runner: `docker run RUN_ARGS --gpus=SPEC ENV_ARGS ...`
  // where RUN_ARGS is gpu_args (GPUs asked for) or cpu_args; duplicates
  // are kept.
  for (const std::string& arg : extra->run) a.push_back(arg);
  // The admin's limits come after the cube's arguments: the last wins.
  AppendTaskLimits(context.limits, &a);
  AppendGpuArgs(context, DockerGpuSpec(cube.accelerator_count, context.gpus), &a);
  for (const std::string& arg : extra->env) a.push_back(arg);
  std::vector<std::string> entry = SplitArgs(invocation.entrypoint);
  if (!entry.empty()) {
    a.push_back("--entrypoint");
    a.push_back(entry[0]);
  }
  a.push_back(ImageFor(cube, context));
  for (size_t i = 1; i < entry.size(); ++i) a.push_back(entry[i]);
  for (const std::string& arg : invocation.args) a.push_back(arg);
  if (!context.dry_run && !host_.api_socket.empty()) {
    // Only an engine that answers, and one whose API runs a created
    // container as `docker run` does; else the attached client, as before.
    absl::StatusOr<bool> follows = EngineFollowsCreatedContainers(host_.api_socket);
    if (follows.ok() && *follows) command.engine_socket = host_.api_socket;
  }
  return command;
}

void DockerRuntime::AppendEngineHostArgs(std::vector<std::string>* argv,
                                         std::vector<std::string>* notes) const {
  if (host_.stands_in_for_docker) notes->push_back(kStandsInForDocker);
  if (host_.rootless) argv->push_back("--userns=keep-id");
  if (!host_.network) {
    // Before the cube's own arguments: a --network the admin allows wins.
    argv->push_back("--network=none");
    notes->push_back(
        "rootless podman has no network on this host: slirp4netns needs /dev/net/tun "
        "read-write for the agent's user (an admin can `chmod 0666 /dev/net/tun`, Debian's "
        "default); the task runs with --network=none");
  }
}

void DockerRuntime::AppendGpuArgs(const StepContext& context, const std::string& spec,
                                  std::vector<std::string>* argv) const {
  if (spec.empty()) return;
  if (flavour_ == "podman") {
    // Podman takes GPUs as CDI devices (nvidia-ctk cdi generate).
    for (const std::string& device : PodmanCdiDevices(spec, context.gpu_devices)) {
      argv->push_back("--device");
      argv->push_back(device);
    }
    return;
  }
  argv->push_back("--gpus");
  // Docker parses --gpus as CSV: a device list must be quoted inside.
  argv->push_back(spec.find(',') != std::string::npos ? absl::StrCat("\"", spec, "\"") : spec);
}

absl::Status DockerRuntime::RepairTaskFiles(const Cube& cube,
                                            const std::vector<TaskOwnedPaths>& owned,
                                            const StepContext& context) {
  if (context.uid == context.agent_uid) return absl::OkStatus();
  std::vector<std::string> argv = {
      binary_,     "run",  "--rm",         "--user", absl::StrCat(context.uid, ":", context.gid),
      "--network", "none", "--entrypoint", "chmod"};
  const std::vector<std::string> labels = AgentLabels(context);
  argv.insert(argv.begin() + 3, labels.begin(), labels.end());
  std::vector<std::string> targets;
  int mounted = 0;
  for (const TaskOwnedPaths& paths : owned) {
    if (paths.rels.empty()) continue;
    const std::string inside = absl::StrCat("/mlcube-agent-repair/", mounted++);
    auto volume = MountSpec::Render(MountGrammar::kDockerVolume, paths.host_path, inside, false);
    if (!volume.ok()) return volume.status();
    argv.push_back("--volume");
    argv.push_back(std::move(*volume));
    for (const std::string& rel : paths.rels) {
      targets.push_back(rel.empty() ? inside : absl::StrCat(inside, "/", rel));
    }
  }
  if (targets.empty()) return absl::OkStatus();
  argv.push_back(ImageFor(cube, context));
  argv.push_back("-R");
  argv.push_back("u+rwX,g+rwX");
  argv.insert(argv.end(), targets.begin(), targets.end());
  auto result = RunCommand(argv, absl::Seconds(120));
  if (!result.ok()) return result.status();
  if (result->status.ShellCode() != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("`chmod -R u+rwX,g+rwX` in the task's image as its uid exited with code ",
                     result->status.ShellCode(), ": ", PrintableExcerpt(result->output, 300)));
  }
  return absl::OkStatus();
}

namespace {

// Thaws the containers it names when destroyed.
class PausedContainers final : public FrozenTasks {
 public:
  PausedContainers(std::string binary, std::vector<std::string> ids)
      : binary_(std::move(binary)), ids_(std::move(ids)) {}
  ~PausedContainers() override {
    if (ids_.empty()) return;
    std::vector<std::string> argv = {binary_, "unpause"};
    argv.insert(argv.end(), ids_.begin(), ids_.end());
    // Discarded on purpose: a container left paused is thawed by the next
    // step start or agent start (ThawLeftFrozen), which is all that could
    // be done here.
    (void)RunCommand(argv, absl::Seconds(60));
  }

 private:
  std::string binary_;
  std::vector<std::string> ids_;
};

// The ids `docker ps -q` lists for `filters` ("label=...", "status=...").
std::vector<std::string> ListContainers(const std::string& binary,
                                        const std::vector<std::string>& filters) {
  std::vector<std::string> argv = {binary, "ps", "-q", "--no-trunc"};
  for (const std::string& filter : filters) {
    argv.push_back("--filter");
    argv.push_back(filter);
  }
  auto listed = RunCommand(argv, absl::Seconds(30));
  if (!listed.ok() || listed->status.ShellCode() != 0) return {};
  return absl::StrSplit(listed->output, '\n', absl::SkipWhitespace());
}

}  // namespace

std::vector<std::string> DockerRuntime::AgentLabels(const StepContext& context) const {
  std::vector<std::string> labels = {"--label", absl::StrCat("mlcube-agent.job=", context.job_id),
                                     "--label", absl::StrCat(kOwnerLabel, "=", context.owner)};
  if (!instance_.empty()) {
    labels.push_back("--label");
    labels.push_back(absl::StrCat(kInstanceLabel, "=", instance_));
  }
  return labels;
}

std::unique_ptr<FrozenTasks> DockerRuntime::FreezeTasksOf(const std::string& owner) {
  std::vector<std::string> filters = {absl::StrCat("label=", kOwnerLabel, "=", owner),
                                      "status=running"};
  if (!instance_.empty()) filters.push_back(absl::StrCat("label=", kInstanceLabel, "=", instance_));
  std::vector<std::string> ids = ListContainers(binary_, filters);
  if (!ids.empty()) {
    std::vector<std::string> argv = {binary_, "pause"};
    argv.insert(argv.end(), ids.begin(), ids.end());
    // Discarded on purpose: a container that ended meanwhile fails to
    // pause; the others are.
    (void)RunCommand(argv, absl::Seconds(60));
  }
  return std::make_unique<PausedContainers>(binary_, std::move(ids));
}

bool DockerRuntime::WaitUntilStarted(const std::string& container_name, absl::Duration timeout,
                                     const std::function<bool()>& ended) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    auto state = RunCommand({binary_, "inspect", "-f", "{{.State.Status}}", container_name},
                            absl::Seconds(30));
    if (state.ok() && state->status.ShellCode() == 0 &&
        !absl::StartsWith(state->output, "created")) {
      return true;  // running, paused, exited: mounted
    }
    if (ended()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

void DockerRuntime::ThawLeftFrozen() {
  // Only this agent's: another agent's freeze is its own to undo.
  const std::string mine =
      instance_.empty() ? std::string(kOwnerLabel) : absl::StrCat(kInstanceLabel, "=", instance_);
  std::vector<std::string> ids =
      ListContainers(binary_, {absl::StrCat("label=", mine), "status=paused"});
  PausedContainers thawed(binary_, std::move(ids));
}

void DockerRuntime::StopContainer(const std::string& container_name) {
  // Discarded on purpose: a container already gone cannot be killed, and
  // the step's process group is signalled after this either way.
  (void)RunCommand({binary_, "kill", container_name}, absl::Seconds(20));
}

}  // namespace mlcube
