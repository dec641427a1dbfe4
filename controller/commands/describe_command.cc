#include "controller/commands/describe_command.h"

#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/effective_config.h"
#include "common/yaml_reader.h"
#include "controller/terminal/exit_codes.h"

namespace mlcube {
namespace {

const char* StrategyName(BuildStrategy strategy) {
  switch (strategy) {
    case BuildStrategy::kPull:
      return "pull";
    case BuildStrategy::kAuto:
      return "auto";
    case BuildStrategy::kAlways:
      return "always";
  }
  return "pull";
}

void PrintParameters(const char* title, const std::vector<Parameter>& parameters,
                     std::ostream& out) {
  if (parameters.empty()) return;
  out << "    " << title << ":\n";
  for (const Parameter& p : parameters) {
    out << "      " << p.name << ": "
        << (p.type == ParameterType::kDirectory ? "directory"
            : p.type == ParameterType::kFile    ? "file"
                                                : "file or directory (decided when the task runs)")
        << (p.access == AccessMode::kReadOnly ? ", read-only" : "") << ", default '"
        << p.default_value << "' -> " << p.host_path << "\n";
  }
}

}  // namespace

int RunDescribeCommand(const CubeOptions& options, const Console& console, std::ostream& out) {
  absl::StatusOr<Cube> cube = LoadCube(ToLoadOptions(options));
  if (!cube.ok()) {
    console.Error(cube.status().message());
    return kExitBadInput;
  }
  for (const std::string& warning : cube->warnings) console.Warning(warning);
  out << "name: " << cube->name << "\n";
  if (!cube->description.empty()) out << "description: " << cube->description << "\n";
  if (!cube->authors.empty()) out << "authors: " << absl::StrJoin(cube->authors, ", ") << "\n";
  out << "layout: "
      << (cube->layout == CubeLayout::kLegacy ? "older (tasks/, run/, platform/)"
                                              : "single-file mlcube.yaml")
      << "\n";
  out << "root: " << cube->root << "\n";
  out << "workspace: " << cube->workspace << "\n";
  if (cube->accelerator_count > 0) out << "accelerators: " << cube->accelerator_count << "\n";
  if (!cube->docker.image.empty()) {
    out << "docker: image " << cube->docker.image << ", build_strategy "
        << StrategyName(cube->docker.build_strategy) << ", build " << cube->docker.build_context
        << "/" << cube->docker.build_file << "\n";
  }
  if (!cube->singularity.image.empty()) {
    const std::string image =
        cube->singularity.image_dir.empty() || cube->singularity.image.front() == '/'
            ? cube->singularity.image
            : absl::StrCat(cube->singularity.image_dir, "/", cube->singularity.image);
    out << "singularity: image " << image << ", recipe " << cube->singularity.build_context << "/"
        << cube->singularity.build_file << "\n";
  }
  out << "tasks:\n";
  for (const auto& [name, task] : cube->tasks) {
    out << "  " << name << ":\n";
    if (!task.entrypoint.empty()) out << "    entrypoint: " << task.entrypoint << "\n";
    PrintParameters("inputs", task.inputs, out);
    PrintParameters("outputs", task.outputs, out);
  }
  return kExitOk;
}

int RunShowConfigCommand(const CubeOptions& options, const Console& console, std::ostream& out) {
  // As `mlcube show_config --platform=singularity`: a runner's name (when
  // no file has that name) picks the runner instead of a platform file.
  CubeOptions load = options;
  const bool runner_name = options.platform == "docker" || options.platform == "singularity" ||
                           options.platform == "apptainer" || options.platform == "podman";
  if (runner_name && ::access(options.platform.c_str(), F_OK) != 0) load.platform.clear();
  absl::StatusOr<Cube> cube = LoadCube(ToLoadOptions(load));
  if (!cube.ok()) {
    console.Error(cube.status().message());
    return kExitBadInput;
  }
  for (const std::string& warning : cube->warnings) console.Warning(warning);
  // MLCube's shape for the platform's runner (docker unless the platform
  // names singularity or apptainer), so it diffs against `mlcube show_config`.
  const std::string platform = options.platform.substr(options.platform.find_last_of('/') + 1);
  const bool singularity =
      absl::StrContains(platform, "singularity") || absl::StrContains(platform, "apptainer");
  out << EmitYaml(EffectiveConfig(*cube).ForRunner(singularity ? "singularity" : "docker")) << "\n";
  return kExitOk;
}

}  // namespace mlcube
