// libFuzzer target over every YAML loader of the cube model: the single-file
// loader, the older layout's converter (mlcube.yaml, task, run and platform
// files) and -P overrides. Any crash, sanitizer report or escaping exception
// is a finding; error statuses are the expected outcome for most inputs.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/config_tree.h"
#include "common/cube_loader.h"
#include "common/legacy_cube_converter.h"
#include "common/mount_planner.h"
#include "common/yaml_reader.h"

namespace {

mlcube::LegacyYamlFile Parsed(const std::string& name, const std::string& text) {
  absl::StatusOr<YAML::Node> node = mlcube::ParseYaml(text, name);
  return {name, node.ok() ? *node : YAML::Node()};
}

void PlanAll(const mlcube::Cube& cube) {
  for (const auto& [name, task] : cube.tasks) {
    mlcube::MountPlanOptions options;
    options.confine_to = cube.workspace;
    (void)mlcube::PlanTaskInvocation(task, options);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 3;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  // Documents of a multi-file input are separated by a line "%%".
  const std::vector<std::string> parts = absl::StrSplit(text, "\n%%\n");

  if (mode == 0) {
    mlcube::CubeLoadOptions options;
    if (parts.size() > 1) {
      options.overrides = absl::StrSplit(parts[1], '\n', absl::SkipEmpty());
    }
    absl::StatusOr<mlcube::Cube> cube = mlcube::LoadCubeFromString(parts[0], "/fuzz", options);
    if (cube.ok()) PlanAll(*cube);
  } else if (mode == 1) {
    mlcube::LegacyCubeFiles files;
    files.root = Parsed("mlcube.yaml", parts[0]);
    for (size_t i = 1; i < parts.size(); ++i) {
      const std::string name = std::to_string(i);
      switch (i % 3) {
        case 0:
          files.task_files.push_back(Parsed("tasks/t" + name + ".yaml", parts[i]));
          break;
        case 1:
          files.run_files.push_back(Parsed("run/r" + name + ".yaml", parts[i]));
          break;
        default:
          files.platform_files.push_back(Parsed("platform/docker.yaml", parts[i]));
      }
    }
    (void)mlcube::IsLegacyRootConfig(files.root.content);
    (void)mlcube::LegacyTaskFilePaths(files.root);
    absl::StatusOr<YAML::Node> converted = mlcube::ConvertLegacyCube(files);
    if (converted.ok()) {
      absl::StatusOr<mlcube::Cube> cube = mlcube::LoadCubeFromString(
          mlcube::EmitYaml(*converted), "/fuzz", mlcube::CubeLoadOptions());
      if (cube.ok()) PlanAll(*cube);
    }
  } else {
    for (const std::string& part : parts) {
      mlcube::LegacyYamlFile file = Parsed("run/x.yaml", part);
      (void)mlcube::RunFileAsOverrides(file);
      (void)mlcube::ConvertPlatformFile(file);
      YAML::Node root(YAML::NodeType::Map);
      (void)mlcube::ApplyOverride(root, part);
    }
  }
  return 0;
}
