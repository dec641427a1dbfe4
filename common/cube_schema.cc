#include "common/cube_schema.h"

#include <cstdlib>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/safe_path.h"
#include "common/yaml_field_reader.h"
#include "common/yaml_reader.h"

namespace mlcube {
namespace {

// The cube's field reader, plus the directories relative paths resolve from.
class SchemaReader : public YamlFieldReader {
 public:
  explicit SchemaReader(const CubeSchemaContext& context)
      : YamlFieldReader(context.file_name), context_(context) {}

  std::string Absolute(const std::string& base, const std::string& path) const {
    if (absl::StartsWith(path, "/")) return NormalizePath(path);
    return NormalizePath(absl::StrCat(base, "/", path));
  }

  const CubeSchemaContext& context() const { return context_; }

  // MLCube ignores keys it does not know: a warning naming file and key,
  // never an error.
  absl::Status CheckKeys(const YAML::Node& node, const std::string& key_path,
                         const std::vector<std::string>& allowed) const {
    absl::Status status = YamlFieldReader::CheckKeys(node, key_path, allowed);
    if (!status.ok()) warnings_.push_back(std::string(status.message()));
    return absl::OkStatus();
  }

  std::vector<std::string> TakeWarnings() const { return std::move(warnings_); }

 private:
  const CubeSchemaContext& context_;
  mutable std::vector<std::string> warnings_;
};

// "~" and "~/x" as the user's home, as MLCube's path handling does.
std::string ExpandHome(const std::string& path) {
  if (path != "~" && !absl::StartsWith(path, "~/")) return path;
  const char* home = getenv("HOME");
  if (home == nullptr || *home == '\0') return path;
  return absl::StrCat(home, path.substr(1));
}

absl::StatusOr<Parameter> ReadParameter(const SchemaReader& reader, const std::string& name,
                                        const YAML::Node& node, const std::string& key_path) {
  Parameter parameter;
  parameter.name = name;
  std::string type;
  std::string opts;
  if (!node.IsDefined() || node.IsNull()) {
    parameter.default_value = name;
  } else if (node.IsScalar()) {
    parameter.default_value = node.Scalar();
  } else if (node.IsMap()) {
    absl::Status keys = reader.CheckKeys(node, key_path, {"type", "default", "opts"});
    if (!keys.ok()) return keys;
    absl::StatusOr<std::string> value =
        reader.String(node, "type", absl::StrCat(key_path, ".type"));
    if (!value.ok()) return value.status();
    type = *value;
    value = reader.String(node, "default", absl::StrCat(key_path, ".default"), name);
    if (!value.ok()) return value.status();
    parameter.default_value = *value;
    value = reader.String(node, "opts", absl::StrCat(key_path, ".opts"));
    if (!value.ok()) return value.status();
    opts = *value;
  } else {
    return reader.Error(key_path,
                        absl::StrCat("expected a path or a mapping {type, default, opts}, "
                                     "got ",
                                     DescribeNodeKind(node)));
  }
  if (type.empty()) {
    type = absl::EndsWith(parameter.default_value, "/") ? "directory" : "unknown";
  }
  if (type == "unknown") {
    parameter.type = ParameterType::kUnknown;
  } else if (type == "file") {
    parameter.type = ParameterType::kFile;
  } else if (type == "directory") {
    parameter.type = ParameterType::kDirectory;
  } else {
    return reader.Error(absl::StrCat(key_path, ".type"),
                        absl::StrCat("expected 'file' or 'directory', got '", type, "'"));
  }
  if (opts.empty() || opts == "rw") {
    parameter.access = AccessMode::kReadWrite;
  } else if (opts == "ro") {
    parameter.access = AccessMode::kReadOnly;
  } else {
    return reader.Error(absl::StrCat(key_path, ".opts"),
                        absl::StrCat("expected 'ro' or 'rw', got '", opts, "'"));
  }
  // "" is the workspace itself.
  parameter.host_path =
      reader.Absolute(reader.context().workspace, ExpandHome(parameter.default_value));
  return parameter;
}

absl::Status ReadParameterGroup(const SchemaReader& reader, const YAML::Node& parameters,
                                const char* group, const std::string& key_path,
                                std::vector<Parameter>* out) {
  const YAML::Node node = YamlChild(parameters, group);
  const std::string group_path = absl::StrCat(key_path, ".", group);
  if (!node.IsDefined() || node.IsNull()) return absl::OkStatus();
  if (!node.IsMap()) {
    return reader.Error(group_path, absl::StrCat("expected a mapping of parameter names, got ",
                                                 DescribeNodeKind(node)));
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string name = it->first.Scalar();
    if (name.empty()) return reader.Error(group_path, "empty parameter name");
    absl::StatusOr<Parameter> parameter =
        ReadParameter(reader, name, it->second, absl::StrCat(group_path, ".", name));
    if (!parameter.ok()) return parameter.status();
    out->push_back(*parameter);
  }
  return absl::OkStatus();
}

absl::StatusOr<Task> ReadTask(const SchemaReader& reader, const std::string& name,
                              const YAML::Node& node) {
  const std::string key_path = absl::StrCat("tasks.", name);
  Task task;
  task.name = name;
  if (!node.IsDefined() || node.IsNull()) return task;
  if (!node.IsMap()) {
    return reader.Error(key_path, absl::StrCat("expected a mapping {entrypoint, parameters}, got ",
                                               DescribeNodeKind(node)));
  }
  absl::Status status = reader.CheckKeys(node, key_path, {"entrypoint", "parameters"});
  if (!status.ok()) return status;
  absl::StatusOr<std::string> entrypoint =
      reader.String(node, "entrypoint", absl::StrCat(key_path, ".entrypoint"));
  if (!entrypoint.ok()) return entrypoint.status();
  task.entrypoint = *entrypoint;
  const YAML::Node parameters = YamlChild(node, "parameters");
  const std::string parameters_path = absl::StrCat(key_path, ".parameters");
  if (!parameters.IsDefined() || parameters.IsNull()) return task;
  if (!parameters.IsMap()) {
    return reader.Error(parameters_path, absl::StrCat("expected a mapping {inputs, outputs}, got ",
                                                      DescribeNodeKind(parameters)));
  }
  status = reader.CheckKeys(parameters, parameters_path, {"inputs", "outputs"});
  if (!status.ok()) return status;
  status = ReadParameterGroup(reader, parameters, "inputs", parameters_path, &task.inputs);
  if (!status.ok()) return status;
  status = ReadParameterGroup(reader, parameters, "outputs", parameters_path, &task.outputs);
  if (!status.ok()) return status;
  // A parameter may be both an input and an output: MLCube passes it twice.
  return task;
}

absl::Status ReadDocker(const SchemaReader& reader, const YAML::Node& node, DockerSettings* out) {
  if (!node.IsMap()) {
    return reader.Error("docker", absl::StrCat("expected a mapping, got ", DescribeNodeKind(node)));
  }
  absl::Status status =
      reader.CheckKeys(node, "docker",
                       {"image", "build_context", "build_file", "build_strategy", "build_args",
                        "env_args", "gpu_args", "cpu_args", "docker", "build_command", "run_args"});
  if (!status.ok()) return status;
  struct Field {
    const char* key;
    std::string* target;
  };
  std::string build_context;
  std::string strategy;
  for (const Field& field :
       {Field{"image", &out->image}, Field{"build_context", &build_context},
        Field{"build_file", &out->build_file}, Field{"build_strategy", &strategy},
        Field{"env_args", &out->env_args}, Field{"gpu_args", &out->gpu_args},
        Field{"cpu_args", &out->cpu_args}}) {
    absl::StatusOr<std::string> value =
        reader.String(node, field.key, absl::StrCat("docker.", field.key));
    if (!value.ok()) return value.status();
    *field.target = *value;
  }
  out->build_context =
      reader.Absolute(reader.context().root, build_context.empty() ? "." : build_context);
  if (out->build_file.empty()) out->build_file = "Dockerfile";
  if (strategy.empty() || strategy == "pull") {
    out->build_strategy = BuildStrategy::kPull;
  } else if (strategy == "auto") {
    out->build_strategy = BuildStrategy::kAuto;
  } else if (strategy == "always") {
    out->build_strategy = BuildStrategy::kAlways;
  } else {
    return reader.Error("docker.build_strategy",
                        absl::StrCat("expected 'pull', 'auto' or 'always', got '", strategy, "'"));
  }
  const YAML::Node build_args = YamlChild(node, "build_args");
  if (build_args.IsDefined() && !build_args.IsNull()) {
    if (!build_args.IsMap()) {
      return reader.Error("docker.build_args", absl::StrCat("expected a mapping NAME: value, got ",
                                                            DescribeNodeKind(build_args)));
    }
    for (auto it = build_args.begin(); it != build_args.end(); ++it) {
      const std::string key = it->first.Scalar();
      absl::StatusOr<std::string> value =
          reader.String(build_args, key, absl::StrCat("docker.build_args.", key));
      if (!value.ok()) return value.status();
      out->build_args[key] = *value;
    }
  }
  return absl::OkStatus();
}

absl::Status ReadSingularity(const SchemaReader& reader, const YAML::Node& node,
                             SingularitySettings* out) {
  if (!node.IsMap()) {
    return reader.Error("singularity",
                        absl::StrCat("expected a mapping, got ", DescribeNodeKind(node)));
  }
  absl::Status status = reader.CheckKeys(node, "singularity",
                                         {"image", "image_dir", "build_context", "build_file",
                                          "build_args", "run_args", "singularity"});
  if (!status.ok()) return status;
  std::string image_dir;
  std::string build_context;
  struct Field {
    const char* key;
    std::string* target;
  };
  for (const Field& field :
       {Field{"image", &out->image}, Field{"image_dir", &image_dir},
        Field{"build_context", &build_context}, Field{"build_file", &out->build_file},
        Field{"build_args", &out->build_args}, Field{"run_args", &out->run_args}}) {
    absl::StatusOr<std::string> value =
        reader.String(node, field.key, absl::StrCat("singularity.", field.key));
    if (!value.ok()) return value.status();
    *field.target = *value;
  }
  if (!image_dir.empty()) out->image_dir = reader.Absolute(reader.context().root, image_dir);
  out->build_context =
      reader.Absolute(reader.context().root, build_context.empty() ? "." : build_context);
  if (out->build_file.empty()) out->build_file = "Singularity.recipe";
  return absl::OkStatus();
}

absl::Status ReadAuthors(SchemaReader& reader, const YAML::Node& config, Cube* cube) {
  const YAML::Node authors = YamlChild(config, "authors");
  if (authors.IsDefined() && !authors.IsNull()) {
    if (!authors.IsSequence()) {
      return reader.Error("authors", absl::StrCat("expected a list of {name, email, org}, got ",
                                                  DescribeNodeKind(authors)));
    }
    for (size_t i = 0; i < authors.size(); ++i) {
      const YAML::Node author = authors[i];
      const std::string key_path = absl::StrCat("authors.", i);
      if (author.IsScalar()) {
        cube->authors.push_back(author.Scalar());
        continue;
      }
      absl::StatusOr<std::string> name = reader.String(author, "name", key_path + ".name");
      if (!name.ok()) return name.status();
      if (!author.IsMap() || name->empty()) {
        return reader.Error(key_path, "expected a name or a mapping with 'name'");
      }
      cube->authors.push_back(*name);
    }
  }
  return absl::OkStatus();
}

absl::Status ReadPlatform(SchemaReader& reader, const YAML::Node& config, Cube* cube) {
  const YAML::Node platform = YamlChild(config, "platform");
  if (platform.IsDefined() && !platform.IsNull()) {
    if (!platform.IsMap()) {
      return reader.Error("platform",
                          absl::StrCat("expected a mapping, got ", DescribeNodeKind(platform)));
    }
    absl::StatusOr<std::string> value =
        reader.String(platform, "accelerator_count", "platform.accelerator_count", "0");
    if (!value.ok()) return value.status();
    int count = 0;
    if (!absl::SimpleAtoi(*value, &count) || count < 0) {
      return reader.Error("platform.accelerator_count",
                          absl::StrCat("expected a whole number >= 0, got '", *value, "'"));
    }
    cube->accelerator_count = count;
  }
  return absl::OkStatus();
}

absl::Status ReadTasks(SchemaReader& reader, const YAML::Node& config,
                       const CubeSchemaContext& context, Cube* cube) {
  const YAML::Node tasks = YamlChild(config, "tasks");
  if (!tasks.IsDefined() || tasks.IsNull()) {
    return reader.Error("tasks", "required key is missing (a mapping of task names to tasks)");
  }
  if (!tasks.IsMap()) {
    return reader.Error("tasks", absl::StrCat("expected a mapping of task names to tasks, got ",
                                              DescribeNodeKind(tasks)));
  }
  for (auto it = tasks.begin(); it != tasks.end(); ++it) {
    const std::string name = it->first.Scalar();
    if (name.empty() || name.find_first_of(" \t/=,") != std::string::npos) {
      return reader.Error(absl::StrCat("tasks.", name),
                          "task names must be non-empty with no spaces, '/', '=' or ','");
    }
    absl::StatusOr<Task> task = ReadTask(reader, name, it->second);
    if (!task.ok()) return task.status();
    cube->tasks[name] = *task;
    if (context.layout == CubeLayout::kLegacy) {
      cube->tasks[name].mount_naming = MountNaming::kOlderRunners;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Cube> BuildCubeFromConfig(const YAML::Node& config,
                                         const CubeSchemaContext& context) {
  SchemaReader reader(context);
  if (!config.IsMap()) {
    return reader.Error("name", absl::StrCat("expected a mapping at the top level, got ",
                                             DescribeNodeKind(config)));
  }
  Cube cube;
  cube.layout = context.layout;
  cube.config_file = context.config_file;
  cube.root = context.root;
  cube.workspace = context.workspace;
  cube.effective_config = config;

  absl::StatusOr<std::string> value = reader.String(config, "name", "name");
  if (!value.ok()) return value.status();
  if (value->empty()) return reader.Error("name", "required key is missing");
  cube.name = *value;
  value = reader.String(config, "description", "description");
  if (!value.ok()) return value.status();
  cube.description = *value;

  if (absl::Status s = ReadAuthors(reader, config, &cube); !s.ok()) return s;
  if (absl::Status s = ReadPlatform(reader, config, &cube); !s.ok()) return s;
  const YAML::Node docker = YamlChild(config, "docker");
  if (docker.IsDefined() && !docker.IsNull()) {
    absl::Status status = ReadDocker(reader, docker, &cube.docker);
    if (!status.ok()) return status;
  }
  const YAML::Node singularity = YamlChild(config, "singularity");
  if (singularity.IsDefined() && !singularity.IsNull()) {
    absl::Status status = ReadSingularity(reader, singularity, &cube.singularity);
    if (!status.ok()) return status;
  }

  if (absl::Status s = ReadTasks(reader, config, context, &cube); !s.ok()) return s;
  cube.warnings = reader.TakeWarnings();
  return cube;
}

}  // namespace mlcube
