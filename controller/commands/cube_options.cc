#include "controller/commands/cube_options.h"

#include <sys/stat.h>

#include <CLI/CLI.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/legacy_cube_converter.h"
#include "common/yaml_reader.h"

namespace mlcube {

void AddCubeOptions(CLI::App* command, CubeOptions* options) {
  command->add_option("--mlcube", options->mlcube, "Cube directory or its mlcube.yaml")
      ->capture_default_str();
  command->add_option("--platform", options->platform,
                      "Platform file (platform/docker.yaml, or one in the single-file format)");
  command->add_option("--workspace", options->workspace,
                      "Workspace directory (default ROOT/workspace)");
  command->add_option("-P", options->overrides, "Override a configuration value: key.path=value")
      ->allow_extra_args(false);
}

CubeLoadOptions ToLoadOptions(const CubeOptions& options) {
  CubeLoadOptions load;
  load.path = options.mlcube;
  load.platform_file = options.platform;
  load.workspace = options.workspace;
  load.overrides = options.overrides;
  return load;
}

absl::StatusOr<std::vector<std::string>> ResolveTaskNames(const std::string& task,
                                                          CubeLoadOptions* load_options) {
  struct stat st;
  if ((absl::EndsWith(task, ".yaml") || absl::EndsWith(task, ".yml")) &&
      ::stat(task.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    absl::StatusOr<YAML::Node> content = ReadYamlFile(task, task);
    if (!content.ok()) return content.status();
    auto bound = RunFileAsOverrides({task, *content});
    if (!bound.ok()) return bound.status();
    // Run-file bindings go first so explicit -P flags still win.
    load_options->overrides.insert(load_options->overrides.begin(), bound->second.begin(),
                                   bound->second.end());
    return std::vector<std::string>{bound->first};
  }
  std::vector<std::string> names = absl::StrSplit(task, ',', absl::SkipEmpty());
  if (names.empty()) return absl::InvalidArgumentError("--task: no task named");
  return names;
}

}  // namespace mlcube
