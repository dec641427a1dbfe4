#ifndef MLCUBE_REMOTE_COMMON_LEGACY_CUBE_CONVERTER_H_
#define MLCUBE_REMOTE_COMMON_LEGACY_CUBE_CONVERTER_H_

// Converts MLCube's older multi-file layout into the single-file format, so
// the rest of the system knows one model:
//   mlcube.yaml             name, author, `tasks:` list of tasks/*.yaml
//   tasks/T.yaml            inputs/outputs: lists of {name, type}
//   run/T.yaml              task_name, input_binding, output_binding
//                           ($WORKSPACE/x means workspace-relative x)
//   platform/docker.yaml    image
//   platform/singularity.yaml  image (relative to the workspace unless
//                           absolute)
//   build/                  Dockerfile and/or Singularity.recipe

#include <yaml-cpp/yaml.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace mlcube {

struct LegacyYamlFile {
  std::string display_name;  // used in messages, e.g. "run/train.yaml"
  YAML::Node content;
};

struct LegacyCubeFiles {
  LegacyYamlFile root;
  // In the order mlcube.yaml lists them; the task name is the file's stem.
  std::vector<LegacyYamlFile> task_files;
  // run/*.yaml: the first file binding a task gives that task's defaults.
  std::vector<LegacyYamlFile> run_files;
  // platform/*.yaml that describe a docker or singularity platform.
  std::vector<LegacyYamlFile> platform_files;
  bool has_dockerfile = false;
};

// True when a parsed mlcube.yaml is in the older layout.
bool IsLegacyRootConfig(const YAML::Node& root);

// Task file paths listed by a legacy mlcube.yaml, relative to the cube root.
absl::StatusOr<std::vector<std::string>> LegacyTaskFilePaths(const LegacyYamlFile& root);

// The single-file configuration tree equivalent to the legacy files.
absl::StatusOr<YAML::Node> ConvertLegacyCube(const LegacyCubeFiles& files);

// A legacy platform file as a single-file format fragment:
// {docker: {image: ...}} or {singularity: {image_dir, image}}. Files already
// in the single-file format (top-level docker:/singularity:) pass unchanged.
absl::StatusOr<YAML::Node> ConvertPlatformFile(const LegacyYamlFile& file);

// A run file (`--task=run/train.yaml`) as the task name plus `-P` overrides
// of that task's parameter defaults.
absl::StatusOr<std::pair<std::string, std::vector<std::string>>> RunFileAsOverrides(
    const LegacyYamlFile& run_file);

// The older runners refuse a run file binding a parameter its task's file
// does not declare (a KeyError in MLCube): INVALID_ARGUMENT naming the key
// when one of `overrides` ("tasks.T.parameters.inputs.NAME.default=V")
// names a parameter that `converted` (ConvertLegacyCube's tree) lacks.
absl::Status CheckBindingsDeclared(const YAML::Node& converted,
                                   const std::vector<std::string>& overrides);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_LEGACY_CUBE_CONVERTER_H_
