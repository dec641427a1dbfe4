#include "common/cube_loader.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/config_interpolator.h"
#include "common/config_tree.h"
#include "common/cube_schema.h"
#include "common/file_util.h"
#include "common/legacy_cube_converter.h"
#include "common/safe_path.h"
#include "common/singularity_source.h"
#include "common/yaml_reader.h"

namespace mlcube {
namespace {

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string MakeAbsolute(const std::string& path) {
  if (absl::StartsWith(path, "/")) return NormalizePath(path);
  char buffer[4096];
  if (::getcwd(buffer, sizeof(buffer)) == nullptr) return NormalizePath(path);
  return NormalizePath(absl::StrCat(buffer, "/", path));
}

// *.yaml paths under a directory (sub-folders too, "alice/hello.yaml"),
// sorted; empty when it does not exist.
std::vector<std::string> YamlFilesIn(const std::string& dir, int depth = 4) {
  std::vector<std::string> names;
  std::unique_ptr<DIR, int (*)(DIR*)> handle(::opendir(dir.c_str()), &::closedir);
  if (!handle) return names;
  while (const dirent* entry = ::readdir(handle.get())) {
    const std::string name = entry->d_name;
    if (name.empty() || name[0] == '.') continue;
    if (absl::EndsWith(name, ".yaml") || absl::EndsWith(name, ".yml")) {
      names.push_back(name);
    } else if (depth > 0 && IsDirectory(dir + "/" + name)) {
      for (const std::string& inner : YamlFilesIn(dir + "/" + name, depth - 1)) {
        names.push_back(absl::StrCat(name, "/", inner));
      }
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The built-in settings of MLCube's runners, applied under everything else
// for the runtime sections a cube has.
YAML::Node RunnerDefaults(const YAML::Node& merged) {
  YAML::Node defaults(YAML::NodeType::Map);
  defaults["platform"]["accelerator_count"] = 0;
  const YAML::Node& const_merged = merged;
  if (const_merged["docker"].IsDefined()) {
    YAML::Node docker = defaults["docker"];
    docker["build_context"] = ".";
    docker["build_file"] = "Dockerfile";
    docker["build_strategy"] = "pull";
    docker["build_args"] = YAML::Node(YAML::NodeType::Map);
    docker["env_args"] = "";
    docker["gpu_args"] = "";
    docker["cpu_args"] = "";
  }
  const YAML::Node docker_section = const_merged["docker"];
  const YAML::Node image =
      docker_section.IsDefined() && docker_section.IsMap() ? docker_section["image"] : YAML::Node();
  // The image and build file are MLCube's singularity runner's choice
  // (ChooseSingularitySource, once the configuration is resolved).
  const bool derive =
      !const_merged["singularity"].IsDefined() && image.IsDefined() && image.IsScalar();
  if (const_merged["singularity"].IsDefined() || derive) {
    YAML::Node singularity = defaults["singularity"];
    singularity["image_dir"] = "${runtime.workspace}/.image";
    singularity["build_context"] = ".";
    singularity["build_file"] = "Singularity.recipe";
    singularity["build_args"] = "--fakeroot";
    singularity["run_args"] = "";
  }
  return defaults;
}

// Run files may name tasks mlcube.yaml does not list: their tasks/NAME.yaml
// is read too, as the older runners did.
absl::Status AddUnlistedTaskFiles(const std::string& root_dir, const std::string& display_dir,
                                  LegacyCubeFiles* files) {
  std::set<std::string> listed;
  for (const LegacyYamlFile& task : files->task_files) {
    const std::string& name = task.display_name;
    const std::string stem = name.substr(name.find_last_of('/') + 1);
    listed.insert(stem.substr(0, stem.find_last_of('.')));
  }
  for (const LegacyYamlFile& run : files->run_files) {
    auto bound = RunFileAsOverrides(run);
    if (!bound.ok() || listed.count(bound->first) > 0) continue;
    const std::string relative = absl::StrCat("tasks/", bound->first, ".yaml");
    if (ValidateRelativePath(relative).ok() && IsRegularFile(root_dir + "/" + relative)) {
      const std::string display = display_dir + relative;
      absl::StatusOr<YAML::Node> content = ReadYamlFile(root_dir + "/" + relative, display);
      if (!content.ok()) return content.status();
      files->task_files.push_back({display, *content});
      listed.insert(bound->first);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<YAML::Node> LoadLegacyFiles(const YAML::Node& root_config,
                                           const std::string& root_display,
                                           const std::string& root_dir,
                                           const std::string& display_dir) {
  LegacyCubeFiles files;
  files.root = {root_display, root_config};
  absl::StatusOr<std::vector<std::string>> task_paths = LegacyTaskFilePaths(files.root);
  if (!task_paths.ok()) return task_paths.status();
  for (const std::string& relative : *task_paths) {
    if (absl::Status status = ValidateRelativePath(relative); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(root_display, ": tasks: ", status.message()));
    }
    const std::string display = absl::StrCat(display_dir, relative);
    absl::StatusOr<YAML::Node> content = ReadYamlFile(root_dir + "/" + relative, display);
    if (!content.ok()) return content.status();
    files.task_files.push_back({display, *content});
  }
  for (const std::string& name : YamlFilesIn(root_dir + "/run")) {
    const std::string display = absl::StrCat(display_dir, "run/", name);
    absl::StatusOr<YAML::Node> content = ReadYamlFile(root_dir + "/run/" + name, display);
    if (!content.ok()) return content.status();
    files.run_files.push_back({display, *content});
  }
  absl::Status unlisted = AddUnlistedTaskFiles(root_dir, display_dir, &files);
  if (!unlisted.ok()) return unlisted;
  for (const char* folder : {"platform", "platforms"}) {
    for (const char* name : {"docker.yaml", "singularity.yaml"}) {
      const std::string path = absl::StrCat(root_dir, "/", folder, "/", name);
      if (!IsRegularFile(path)) continue;
      const std::string display = absl::StrCat(display_dir, folder, "/", name);
      absl::StatusOr<YAML::Node> content = ReadYamlFile(path, display);
      if (!content.ok()) return content.status();
      files.platform_files.push_back({display, *content});
    }
  }
  files.has_dockerfile = IsRegularFile(root_dir + "/build/Dockerfile");
  return ConvertLegacyCube(files);
}

// Where ${oc.env:...} looks: the given variables only, or the process's.
ConfigInterpolator::EnvLookup EnvironmentOf(const CubeLoadOptions& options) {
  if (!options.environment) return ConfigInterpolator::ProcessEnvironment();
  auto variables = std::make_shared<const std::map<std::string, std::string>>(*options.environment);
  return [variables](const std::string& name, std::string* value) {
    auto found = variables->find(name);
    if (found == variables->end()) return false;
    *value = found->second;
    return true;
  };
}

// The configuration as written (no runner defaults), overridden and
// interpolated as far as it can be on its own.
YAML::Node WrittenConfig(const YAML::Node& merged, const CubeSchemaContext& context,
                         const CubeLoadOptions& options) {
  YAML::Node written = YAML::Clone(merged);
  for (const std::string& assignment : options.overrides) {
    // Discarded on purpose: the effective configuration applies the same
    // overrides and reports the ones that fail.
    (void)ApplyOverride(written, assignment);
  }
  written["runtime"]["root"] = context.root;
  written["runtime"]["workspace"] = context.workspace;
  YAML::Node resolved = YAML::Clone(written);
  ConfigInterpolator interpolator(context.file_name, EnvironmentOf(options));
  return interpolator.ResolveAll(resolved).ok() ? resolved : written;
}

// Layers the configuration and resolves it into a Cube. `cube_layer` is the
// cube's own tree in the single-file format.
absl::StatusOr<Cube> Assemble(YAML::Node cube_layer, const CubeSchemaContext& base_context,
                              const CubeLoadOptions& options) {
  CubeSchemaContext context = base_context;
  if (context.layout == CubeLayout::kLegacy) {
    if (absl::Status s = CheckBindingsDeclared(cube_layer, options.overrides); !s.ok()) return s;
  }
  YAML::Node merged(YAML::NodeType::Map);
  if (options.host_defaults.IsDefined() && options.host_defaults.IsMap()) {
    MergeInto(merged, options.host_defaults);
  }
  MergeInto(merged, cube_layer);
  if (!options.platform_file.empty()) {
    absl::StatusOr<YAML::Node> platform =
        ReadYamlFile(options.platform_file, options.platform_file);
    if (!platform.ok()) return platform.status();
    absl::StatusOr<YAML::Node> fragment = ConvertPlatformFile({options.platform_file, *platform});
    if (!fragment.ok()) return fragment.status();
    MergeInto(merged, *fragment);
  }
  YAML::Node written = WrittenConfig(merged, context, options);
  YAML::Node effective = merged;
  MergeUnder(effective, RunnerDefaults(merged));
  effective["runtime"]["root"] = context.root;
  effective["runtime"]["workspace"] = context.workspace;
  for (const std::string& assignment : options.overrides) {
    absl::Status status = ApplyOverride(effective, assignment);
    if (!status.ok()) return status;
  }
  // -P runtime.workspace=... moves the workspace like --workspace does.
  const YAML::Node& const_effective = effective;
  const YAML::Node workspace = const_effective["runtime"]["workspace"];
  if (workspace.IsScalar() && workspace.Scalar() != context.workspace) {
    context.workspace = MakeAbsolute(workspace.Scalar());
    effective["runtime"]["workspace"] = context.workspace;
  }
  ConfigInterpolator interpolator(context.file_name, EnvironmentOf(options));
  absl::Status status = interpolator.ResolveAll(effective);
  if (!status.ok()) return status;
  SingularityChoice singularity;
  if (context.layout == CubeLayout::kSingleFile && const_effective["singularity"].IsDefined()) {
    const YAML::Node& const_written = written;
    singularity = ChooseSingularitySource(const_written["singularity"], effective, context.root);
    if (!singularity.image.empty()) effective["singularity"]["image"] = singularity.image;
    if (!singularity.build_file.empty()) {
      effective["singularity"]["build_file"] = singularity.build_file;
    }
  }
  absl::StatusOr<Cube> cube = BuildCubeFromConfig(effective, context);
  if (!cube.ok()) return cube;
  cube->written_config = written;
  cube->singularity_source = singularity.source;
  return cube;
}

absl::StatusOr<Cube> LoadCubeFromStringUnguarded(const std::string& mlcube_yaml,
                                                 const std::string& root,
                                                 const CubeLoadOptions& options) {
  CubeSchemaContext context;
  context.file_name = "mlcube.yaml";
  context.root = MakeAbsolute(root);
  context.config_file = context.root + "/mlcube.yaml";
  context.workspace =
      options.workspace.empty() ? context.root + "/workspace" : MakeAbsolute(options.workspace);
  absl::StatusOr<YAML::Node> config = ParseYaml(mlcube_yaml, context.file_name);
  if (!config.ok()) return config.status();
  if (IsLegacyRootConfig(*config)) {
    return absl::InvalidArgumentError(
        "mlcube.yaml: tasks: the older layout needs its tasks/ and run/ files on disk");
  }
  if (!config->IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mlcube.yaml: expected a mapping at the top level, got ", DescribeNodeKind(*config)));
  }
  return Assemble(*config, context, options);
}

absl::StatusOr<Cube> LoadCubeUnguarded(const CubeLoadOptions& options) {
  const std::string given = options.path.empty() ? "." : options.path;
  std::string config_path;
  std::string display;
  std::string display_dir;
  if (IsDirectory(given)) {
    config_path = given + "/mlcube.yaml";
    display_dir = (given == ".") ? "" : absl::StrCat(given, absl::EndsWith(given, "/") ? "" : "/");
    display = display_dir + "mlcube.yaml";
    if (!IsRegularFile(config_path)) {
      return absl::NotFoundError(absl::StrCat(given, ": no mlcube.yaml in this directory"));
    }
  } else if (IsRegularFile(given)) {
    config_path = given;
    display = given;
    const size_t slash = given.find_last_of('/');
    display_dir = slash == std::string::npos ? "" : given.substr(0, slash + 1);
  } else {
    return absl::NotFoundError(absl::StrCat(given, ": no such cube directory or mlcube.yaml"));
  }

  CubeSchemaContext context;
  context.file_name = display;
  context.config_file = MakeAbsolute(config_path);
  context.root = context.config_file.substr(0, context.config_file.find_last_of('/'));
  if (context.root.empty()) context.root = "/";
  context.workspace =
      options.workspace.empty() ? context.root + "/workspace" : MakeAbsolute(options.workspace);

  absl::StatusOr<YAML::Node> config = ReadYamlFile(config_path, display);
  if (!config.ok()) return config.status();
  if (!config->IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(
        display, ": expected a mapping at the top level, got ", DescribeNodeKind(*config)));
  }
  if (IsLegacyRootConfig(*config)) {
    context.layout = CubeLayout::kLegacy;
    absl::StatusOr<YAML::Node> converted =
        LoadLegacyFiles(*config, display, context.root, display_dir);
    if (!converted.ok()) return converted.status();
    return Assemble(*converted, context, options);
  }
  return Assemble(*config, context, options);
}

}  // namespace

// yaml-cpp throws on some misuse of odd trees; no exception leaves the module.
absl::StatusOr<Cube> LoadCubeFromString(const std::string& mlcube_yaml, const std::string& root,
                                        const CubeLoadOptions& options) {
  return GuardYaml<absl::StatusOr<Cube>>(
      "mlcube.yaml", [&] { return LoadCubeFromStringUnguarded(mlcube_yaml, root, options); });
}

absl::StatusOr<Cube> LoadCube(const CubeLoadOptions& options) {
  return GuardYaml<absl::StatusOr<Cube>>(options.path, [&] { return LoadCubeUnguarded(options); });
}

std::vector<std::string> WorkspaceOutputPaths(const Cube& cube,
                                              const std::vector<std::string>& tasks) {
  const std::string workspace = NormalizePath(cube.workspace);
  std::vector<std::string> paths;
  for (const std::string& task_name : tasks) {
    auto task = cube.tasks.find(task_name);
    if (task == cube.tasks.end()) continue;
    for (const Parameter& output : task->second.outputs) {
      const std::string norm = NormalizePath(output.host_path);
      if (!IsWithin(norm, workspace) || norm == workspace) continue;
      paths.push_back(norm.substr(workspace == "/" ? 1 : workspace.size() + 1));
    }
  }
  return paths;
}

}  // namespace mlcube
