#include "agent/docker_runtime.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "agent/subprocess.h"

namespace mlcube {

bool DockerRuntime::ImageExists(const std::string& image) const {
  auto result =
      RunCommand({binary_, "image", "inspect", "--format", "{{.Id}}", image}, absl::Seconds(30));
  return result.ok() && result->status.ShellCode() == 0;
}

bool DockerRuntime::NeedsConfigure(const Cube& cube, const StepContext& context) {
  if (cube.docker.build_strategy == BuildStrategy::kAlways) return true;
  return !ImageExists(cube.docker.image);
}

absl::StatusOr<StepCommand> DockerRuntime::ConfigureCommand(const Cube& cube,
                                                            const StepContext& context,
                                                            std::string* notes) {
  if (cube.docker.image.empty()) {
    return absl::FailedPreconditionError("the cube sets no docker.image");
  }
  StepCommand command;
  const std::string recipe =
      absl::StrCat(cube.docker.build_context, "/",
                   cube.docker.build_file.empty() ? "Dockerfile" : cube.docker.build_file);
  const bool have_recipe = access(recipe.c_str(), R_OK) == 0;
  if (cube.docker.build_strategy == BuildStrategy::kPull || !have_recipe) {
    if (cube.docker.build_strategy != BuildStrategy::kPull) {
      absl::StrAppend(notes, "mlcube-agent: no recipe at ", recipe, "; pulling ", cube.docker.image,
                      "\n");
    }
    command.argv = {binary_, "pull", cube.docker.image};
    return command;
  }
  // --force-rm: a failing step leaves no intermediate container behind.
  command.argv = {binary_, "build", "--force-rm", "-t", cube.docker.image, "-f", recipe};
  std::map<std::string, std::string> build_args = cube.docker.build_args;
  for (const auto& [k, v] : ProxyEnvironment()) build_args.emplace(k, v);
  for (const auto& [k, v] : context.env) build_args[k] = v;
  for (const auto& [k, v] : build_args) {
    command.argv.push_back("--build-arg");
    command.argv.push_back(absl::StrCat(k, "=", v));
  }
  command.argv.push_back(cube.docker.build_context);
  return command;
}

namespace {

// Extra `run` arguments come from the cube, i.e. from the remote caller.
// Options that would give the task the host (the agent's docker group is
// root-equivalent) are refused.
absl::Status CheckExtraArgs(const std::vector<std::string>& args, const char* key) {
  static const char* const kRefused[] = {"-v",
                                         "--volume",
                                         "--mount",
                                         "--privileged",
                                         "--cap-add",
                                         "--device",
                                         "--pid",
                                         "--ipc",
                                         "--userns",
                                         "--security-opt",
                                         "-u",
                                         "--user",
                                         "--network=host",
                                         "--net=host",
                                         "--uts",
                                         "--volumes-from",
                                         "--cgroup-parent",
                                         "--name"};
  for (const std::string& arg : args) {
    for (const char* refused : kRefused) {
      const std::string r = refused;
      if (arg == r || (r.size() > 2 && arg.rfind(r + "=", 0) == 0)) {
        return absl::PermissionDeniedError(
            absl::StrCat("docker.", key, ": '", arg, "' is not allowed on this agent"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<StepCommand> DockerRuntime::TaskCommand(const Cube& cube,
                                                       const TaskInvocation& invocation,
                                                       const StepContext& context) {
  StepCommand command;
  command.container_name = ContainerName(context.job_id, context.step);
  std::vector<std::string>& a = command.argv;
  a = {binary_,
       "run",
       "--rm",
       "--name",
       command.container_name,
       "--label",
       absl::StrCat("mlcube-agent.job=", context.job_id),
       "--user",
       absl::StrCat(context.uid, ":", context.gid)};
  for (const Mount& m : invocation.mounts) {
    a.push_back("--volume");
    a.push_back(absl::StrCat(m.host_path, ":", m.container_path, m.read_only ? ":ro" : ""));
  }
  std::map<std::string, std::string> env = ProxyEnvironment();
  for (const auto& [k, v] : context.env) env[k] = v;
  for (const auto& [k, v] : env) {
    a.push_back("--env");
    a.push_back(absl::StrCat(k, "=", v));
  }
  const std::vector<std::string> env_args = SplitArgs(cube.docker.env_args);
  const std::vector<std::string> cpu_args = SplitArgs(cube.docker.cpu_args);
  const std::vector<std::string> gpu_args = SplitArgs(cube.docker.gpu_args);
  for (const auto& [args, key] :
       {std::make_pair(&env_args, "env_args"), std::make_pair(&cpu_args, "cpu_args"),
        std::make_pair(&gpu_args, "gpu_args")}) {
    absl::Status allowed = CheckExtraArgs(*args, key);
    if (!allowed.ok()) return allowed;
  }
  for (const std::string& arg : env_args) a.push_back(arg);
  for (const std::string& arg : cpu_args) a.push_back(arg);
  if (!context.gpus.empty()) {
    a.push_back("--gpus");
    // Docker parses --gpus as CSV: a device list must be quoted inside.
    a.push_back(context.gpus.find(',') != std::string::npos ? absl::StrCat("\"", context.gpus, "\"")
                                                            : context.gpus);
    for (const std::string& arg : gpu_args) a.push_back(arg);
  }
  std::vector<std::string> entry = SplitArgs(invocation.entrypoint);
  if (!entry.empty()) {
    a.push_back("--entrypoint");
    a.push_back(entry[0]);
  }
  a.push_back(cube.docker.image);
  for (size_t i = 1; i < entry.size(); ++i) a.push_back(entry[i]);
  for (const std::string& arg : invocation.args) a.push_back(arg);
  return command;
}

void DockerRuntime::StopContainer(const std::string& container_name) {
  (void)RunCommand({binary_, "kill", container_name}, absl::Seconds(20));
}

}  // namespace mlcube
