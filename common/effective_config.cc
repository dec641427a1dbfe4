#include "common/effective_config.h"

#include "absl/strings/match.h"
#include "common/config_tree.h"

namespace mlcube {
namespace {

const char* TypeName(const Parameter& parameter) {
  switch (parameter.type) {
    case ParameterType::kFile:
      return "file";
    case ParameterType::kDirectory:
      return "directory";
    case ParameterType::kUnknown:
      break;
  }
  return "unknown";
}

YAML::Node ParameterGroup(const std::vector<Parameter>& parameters) {
  YAML::Node group(YAML::NodeType::Map);
  for (const Parameter& parameter : parameters) {
    YAML::Node node(YAML::NodeType::Map);
    node["type"] = TypeName(parameter);
    node["default"] = parameter.default_value;
    if (parameter.access == AccessMode::kReadOnly) node["opts"] = "ro";
    group[parameter.name] = node;
  }
  return group;
}

// Copies the scalar (or tree) at `key` of `from` into `to` when it is there.
void CopyWritten(const YAML::Node& from, const char* key, YAML::Node to) {
  const YAML::Node value = from[key];
  if (value.IsDefined() && !value.IsNull()) to[key] = YAML::Clone(value);
}

}  // namespace

YAML::Node EffectiveConfig::Tasks() const {
  YAML::Node tasks(YAML::NodeType::Map);
  for (const auto& [name, task] : cube_.tasks) {
    YAML::Node node(YAML::NodeType::Map);
    if (!task.entrypoint.empty()) node["entrypoint"] = task.entrypoint;
    node["parameters"]["inputs"] = ParameterGroup(task.inputs);
    node["parameters"]["outputs"] = ParameterGroup(task.outputs);
    tasks[name] = node;
  }
  return tasks;
}

YAML::Node EffectiveConfig::DockerRunner() const {
  YAML::Node runner(YAML::NodeType::Map);
  for (const char* key : {"--cpuset-cpus", "--gpus", "--memory", "--network", "--security-opt"}) {
    runner[key] = YAML::Node(YAML::NodeType::Null);
  }
  runner["--mount_opts"] = "";
  runner["build_args"] = "";
  runner["build_context"] = ".";
  runner["build_file"] = "Dockerfile";
  runner["build_strategy"] = "pull";
  runner["cpu_args"] = "";
  runner["docker"] = "docker";
  runner["env_args"] = "";
  runner["gpu_args"] = "";
  runner["image"] = cube_.docker.image;
  const YAML::Node& written = cube_.written_config;
  const YAML::Node docker = written["docker"];
  if (docker.IsDefined() && docker.IsMap()) MergeInto(runner, docker);
  runner["runner"] = "docker";
  return runner;
}

YAML::Node EffectiveConfig::SingularitySection() const {
  const YAML::Node& written = cube_.written_config;
  const YAML::Node section = written["singularity"];
  if (!section.IsDefined() || !section.IsMap() || section.size() == 0) return YAML::Node();
  // MLCube's runner updates the cube's own section in place with what it
  // chose (ChooseSingularitySource).
  YAML::Node out = YAML::Clone(section);
  if (cube_.singularity_source == SingularitySource::kRecipe) {
    out["image"] = cube_.singularity.image;
  } else if (cube_.singularity_source == SingularitySource::kDockerImage) {
    out["image"] = cube_.singularity.image;
    out["build_file"] = cube_.singularity.build_file;
    if (!out["build_args"].IsDefined()) out["build_args"] = "--fakeroot";
    if (!out["singularity"].IsDefined()) out["singularity"] = "singularity";
  }
  return out;
}

YAML::Node EffectiveConfig::SingularityRunner() const {
  YAML::Node runner(YAML::NodeType::Map);
  for (const char* key : {"--network", "--nv", "--security", "--vm-cpu", "--vm-ram"}) {
    runner[key] = YAML::Node(YAML::NodeType::Null);
  }
  runner["--mount_opts"] = "";
  runner["build_args"] = "--fakeroot";
  runner["build_file"] = cube_.singularity.build_file;
  runner["image"] = cube_.singularity.image;
  runner["image_dir"] = cube_.singularity.image_dir;
  runner["run_args"] = "";
  runner["singularity"] = "singularity";
  const YAML::Node singularity = SingularitySection();
  if (singularity.IsMap()) MergeInto(runner, singularity);
  runner["image_dir"] = cube_.singularity.image_dir;
  runner["runner"] = "singularity";
  return runner;
}

YAML::Node EffectiveConfig::ForRunner(const std::string& runner) const {
  YAML::Node out(YAML::NodeType::Map);
  const YAML::Node& written = cube_.written_config;
  for (const char* key : {"name", "description", "authors", "platform", "docker", "singularity"}) {
    CopyWritten(written, key, out);
  }
  if (runner == "singularity" && SingularitySection().IsMap()) {
    out["singularity"] = SingularitySection();
  }
  if (runner == "singularity" && !out["singularity"].IsDefined()) {
    out["singularity"] = YAML::Node(YAML::NodeType::Map);
  }
  out["runtime"]["root"] = cube_.root;
  out["runtime"]["workspace"] = cube_.workspace;
  out["workspace"] = cube_.workspace;
  out["tasks"] = Tasks();
  out["runner"] = runner == "singularity" ? SingularityRunner() : DockerRunner();
  return out;
}

}  // namespace mlcube
