#include "common/legacy_cube_converter.h"

#include <algorithm>
#include <cstdlib>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/yaml_reader.h"

namespace mlcube {
namespace {

absl::Status Invalid(const LegacyYamlFile& file, const std::string& key_path,
                     const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(file.display_name, ": ", key_path, ": ", what));
}

std::string Stem(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  const size_t dot = name.find_last_of('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

// $WORKSPACE/x -> x (workspace-relative); $WORKSPACE -> "."; others as is.
std::string RebaseWorkspace(const std::string& value) {
  for (const char* prefix : {"$WORKSPACE", "${WORKSPACE}"}) {
    if (!absl::StartsWith(value, prefix)) continue;
    std::string rest = value.substr(std::string(prefix).size());
    while (absl::StartsWith(rest, "/")) rest.erase(0, 1);
    return rest.empty() ? "." : rest;
  }
  return value;
}

absl::StatusOr<std::string> ScalarAt(const LegacyYamlFile& file, const YAML::Node& node,
                                     const std::string& key_path) {
  if (!node.IsScalar()) {
    return Invalid(file, key_path, absl::StrCat("expected a value, got ", DescribeNodeKind(node)));
  }
  return node.Scalar();
}

// Reads input_binding/output_binding of a run file into name -> value.
// In the run file's order: the older runners pass parameters in it.
using Bindings = std::vector<std::pair<std::string, std::string>>;

absl::StatusOr<Bindings> ReadBindings(const LegacyYamlFile& file, const char* key) {
  Bindings bindings;
  // A key written twice: the last one counts, as with MLCube's YAML reader.
  YAML::Node node;
  if (file.content.IsMap()) {
    for (auto it = file.content.begin(); it != file.content.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == key) node = it->second;
    }
  }
  if (!node.IsDefined() || node.IsNull()) return bindings;
  if (!node.IsMap()) {
    return Invalid(file, key, absl::StrCat("expected a mapping, got ", DescribeNodeKind(node)));
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string name = it->first.Scalar();
    absl::StatusOr<std::string> value = ScalarAt(file, it->second, absl::StrCat(key, ".", name));
    if (!value.ok()) return value.status();
    auto same = std::find_if(bindings.begin(), bindings.end(),
                             [&](const auto& binding) { return binding.first == name; });
    if (same != bindings.end()) {
      same->second = RebaseWorkspace(*value);
    } else {
      bindings.emplace_back(name, RebaseWorkspace(*value));
    }
  }
  return bindings;
}

absl::StatusOr<std::string> RunFileTaskName(const LegacyYamlFile& file) {
  if (!file.content.IsMap()) {
    return Invalid(file, "task_name", "expected a mapping with task_name");
  }
  const YAML::Node& content = file.content;
  const YAML::Node name = YamlChild(content, "task_name");
  if (!name.IsDefined()) return Invalid(file, "task_name", "required key is missing");
  return ScalarAt(file, name, "task_name");
}

// Converts one task file's `inputs`/`outputs` list.
// With a run file, only the parameters it binds are passed, as the older
// runners passed them; without one, every parameter with its name as path.
absl::Status ConvertParameterList(const LegacyYamlFile& file, const char* key,
                                  const Bindings& bindings, bool has_run_file, YAML::Node out) {
  const YAML::Node& content = file.content;
  const YAML::Node list = YamlChild(content, key);
  if (!list.IsDefined() || list.IsNull()) return absl::OkStatus();
  if (!list.IsSequence()) {
    return Invalid(file, key,
                   absl::StrCat("expected a list of {name, type}, got ", DescribeNodeKind(list)));
  }
  std::vector<std::pair<std::string, std::string>> declared;  // name, type
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string item_path = absl::StrCat(key, ".", i);
    const YAML::Node item = list[i];
    if (!item.IsMap()) {
      return Invalid(file, item_path,
                     absl::StrCat("expected a mapping {name, type}, got ", DescribeNodeKind(item)));
    }
    const YAML::Node name_node = YamlChild(item, "name");
    if (!name_node.IsDefined()) {
      return Invalid(file, absl::StrCat(item_path, ".name"), "required key is missing");
    }
    absl::StatusOr<std::string> name = ScalarAt(file, name_node, item_path + ".name");
    if (!name.ok()) return name.status();
    std::string type = "file";
    if (YamlChild(item, "type").IsDefined()) {
      absl::StatusOr<std::string> type_value =
          ScalarAt(file, YamlChild(item, "type"), item_path + ".type");
      if (!type_value.ok()) return type_value.status();
      type = *type_value;
      if (type != "file" && type != "directory") {
        return Invalid(file, item_path + ".type",
                       absl::StrCat("expected 'file' or 'directory', got '", type, "'"));
      }
    }
    declared.emplace_back(*name, type);
  }
  // With a run file, only what it binds, in its order (as the older
  // runners pass them); without, every parameter named after itself.
  const Bindings unbound = [&] {
    Bindings all;
    for (const auto& [name, type] : declared) all.emplace_back(name, name);
    return all;
  }();
  for (const auto& binding : has_run_file ? bindings : unbound) {
    const std::string& name = binding.first;
    const auto& value = binding.second;
    auto type = std::find_if(declared.begin(), declared.end(),
                             [&name](const auto& d) { return d.first == name; });
    if (type == declared.end()) continue;
    YAML::Node parameter(YAML::NodeType::Map);
    parameter["type"] = type->second;
    parameter["default"] = value;
    out[name] = parameter;
  }
  return absl::OkStatus();
}

}  // namespace

bool IsLegacyRootConfig(const YAML::Node& root) {
  if (!root.IsMap()) return false;
  const YAML::Node& const_root = root;
  const YAML::Node schema = YamlChild(const_root, "schema_type");
  if (schema.IsDefined() && schema.IsScalar() && schema.Scalar() == "mlcube_root") return true;
  const YAML::Node tasks = YamlChild(const_root, "tasks");
  return tasks.IsDefined() && tasks.IsSequence();
}

namespace {

absl::StatusOr<std::vector<std::string>> LegacyTaskFilePathsUnguarded(const LegacyYamlFile& root) {
  const YAML::Node& content = root.content;
  const YAML::Node tasks = YamlChild(content, "tasks");
  if (!tasks.IsDefined() || !tasks.IsSequence()) {
    return Invalid(root, "tasks", "expected a list of task files (tasks/NAME.yaml)");
  }
  std::vector<std::string> paths;
  for (size_t i = 0; i < tasks.size(); ++i) {
    absl::StatusOr<std::string> path = ScalarAt(root, tasks[i], absl::StrCat("tasks.", i));
    if (!path.ok()) return path.status();
    paths.push_back(*path);
  }
  return paths;
}

// $HOME and ${HOME} as the older runners expanded them.
std::string ExpandHomeVariable(const std::string& value) {
  const char* home = getenv("HOME");
  if (home == nullptr) return value;
  std::string out = absl::StrReplaceAll(value, {{"${HOME}", home}});
  return absl::StrReplaceAll(out, {{"$HOME", home}});
}

// The image of a singularity platform: relative paths live in the
// workspace, as the older Singularity runner had them.
YAML::Node SingularityImage(const std::string& image) {
  YAML::Node out(YAML::NodeType::Map);
  const size_t slash = image.find_last_of('/');
  if (absl::StartsWith(image, "/")) {
    out["singularity"]["image_dir"] = slash == 0 ? "/" : image.substr(0, slash);
    out["singularity"]["image"] = image.substr(slash + 1);
  } else {
    out["singularity"]["image_dir"] = "${runtime.workspace}";
    out["singularity"]["image"] = image;
  }
  return out;
}

// schema_type: mlcube_platform, platform: {name, version},
// container: {image, command, run_args, runtime}.
absl::StatusOr<YAML::Node> ConvertMlcubePlatform(const LegacyYamlFile& file) {
  const YAML::Node& content = file.content;
  const YAML::Node platform = YamlChild(content, "platform");
  const YAML::Node name = platform.IsMap() ? YamlChild(platform, "name") : YAML::Node();
  if (!name.IsDefined() || !name.IsScalar()) {
    return Invalid(file, "platform.name", "required key is missing (docker or singularity)");
  }
  const YAML::Node container = YamlChild(content, "container");
  const YAML::Node image = container.IsMap() ? YamlChild(container, "image") : YAML::Node();
  if (!image.IsDefined()) return Invalid(file, "container.image", "required key is missing");
  absl::StatusOr<std::string> value = ScalarAt(file, image, "container.image");
  if (!value.ok()) return value.status();
  if (name.Scalar() == "singularity") return SingularityImage(ExpandHomeVariable(*value));
  if (name.Scalar() != "docker") {
    return Invalid(file, "platform.name",
                   absl::StrCat("expected docker or singularity, got '", name.Scalar(), "'"));
  }
  YAML::Node out(YAML::NodeType::Map);
  out["docker"]["image"] = *value;
  std::vector<std::string> run_args;
  const YAML::Node runtime = YamlChild(container, "runtime");
  if (runtime.IsDefined() && runtime.IsScalar() &&
      !absl::StripAsciiWhitespace(runtime.Scalar()).empty()) {
    // MLCube's docker runner of that layout stops every task here.
    return Invalid(file, "container.runtime",
                   absl::StrCat("MLCube refuses to run tasks with it (\"The 'runtime' parameter is "
                                "deprecated. Please, use: 'run_args: --runtime=",
                                absl::StripAsciiWhitespace(runtime.Scalar()), "'\")"));
  }
  const YAML::Node extra = YamlChild(container, "run_args");
  if (extra.IsDefined() && extra.IsScalar() && !extra.Scalar().empty())
    run_args.push_back(extra.Scalar());
  if (!run_args.empty()) out["docker"]["env_args"] = absl::StrJoin(run_args, " ");
  return out;
}

absl::StatusOr<YAML::Node> ConvertPlatformFileUnguarded(const LegacyYamlFile& file) {
  if (!file.content.IsMap()) {
    return Invalid(file, "image",
                   absl::StrCat("expected a mapping, got ", DescribeNodeKind(file.content)));
  }
  const YAML::Node& content = file.content;
  if (YamlChild(content, "docker").IsDefined() || YamlChild(content, "singularity").IsDefined()) {
    return YAML::Clone(content);
  }
  std::string kind;
  const YAML::Node schema = YamlChild(content, "schema_type");
  if (schema.IsDefined() && schema.IsScalar()) {
    if (schema.Scalar() == "mlcube_docker") kind = "docker";
    if (schema.Scalar() == "mlcube_singularity") kind = "singularity";
    if (schema.Scalar() == "mlcube_platform") return ConvertMlcubePlatform(file);
  }
  const std::string stem = Stem(file.display_name);
  if (kind.empty() && absl::StrContains(stem, "docker")) kind = "docker";
  if (kind.empty() && absl::StrContains(stem, "singularity")) kind = "singularity";
  if (kind.empty()) {
    return Invalid(file, "schema_type",
                   "cannot tell the platform: expected schema_type mlcube_docker or "
                   "mlcube_singularity, or top-level docker:/singularity: keys");
  }
  const YAML::Node image_node = YamlChild(content, "image");
  if (!image_node.IsDefined()) return Invalid(file, "image", "required key is missing");
  absl::StatusOr<std::string> image = ScalarAt(file, image_node, "image");
  if (!image.ok()) return image.status();
  if (kind == "docker") {
    YAML::Node out(YAML::NodeType::Map);
    out["docker"]["image"] = *image;
    return out;
  }
  return SingularityImage(ExpandHomeVariable(*image));
}

// MLCube's runners of that layout read both bindings of the run file a task
// runs with (`metadata['input_binding'].items()`): a missing or empty key
// stops the task.
absl::Status CheckRunFileBindings(const LegacyYamlFile& run_file) {
  const YAML::Node& content = run_file.content;
  for (const char* key : {"input_binding", "output_binding"}) {
    const YAML::Node node = YamlChild(content, key);
    if (!node.IsDefined()) {
      return Invalid(run_file, key,
                     "required key is missing; MLCube refuses a run file without it (write `{}` "
                     "for no parameters)");
    }
    if (node.IsNull()) {
      return Invalid(run_file, key,
                     "is empty; MLCube refuses a run file whose bindings are not a mapping (write "
                     "`{}` for no parameters)");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::pair<std::string, std::vector<std::string>>> RunFileAsOverridesUnguarded(
    const LegacyYamlFile& run_file) {
  absl::StatusOr<std::string> task = RunFileTaskName(run_file);
  if (!task.ok()) return task.status();
  if (absl::Status s = CheckRunFileBindings(run_file); !s.ok()) return s;
  std::vector<std::string> overrides;
  for (const auto& [key, kind] : {std::pair<const char*, const char*>{"input_binding", "inputs"},
                                  {"output_binding", "outputs"}}) {
    absl::StatusOr<Bindings> bindings = ReadBindings(run_file, key);
    if (!bindings.ok()) return bindings.status();
    for (const auto& [name, value] : *bindings) {
      overrides.push_back(
          absl::StrCat("tasks.", *task, ".parameters.", kind, ".", name, ".default=", value));
    }
  }
  return std::make_pair(*task, overrides);
}

// name, description, author and version of mlcube.yaml.
absl::Status ConvertHeader(const LegacyCubeFiles& files, YAML::Node& out) {
  const YAML::Node& root = files.root.content;
  if (!root.IsMap()) {
    return Invalid(files.root, "name", "expected a mapping at the top level");
  }
  const YAML::Node name = YamlChild(root, "name");
  if (!name.IsDefined()) return Invalid(files.root, "name", "required key is missing");
  absl::StatusOr<std::string> name_value = ScalarAt(files.root, name, "name");
  if (!name_value.ok()) return name_value.status();
  out["name"] = *name_value;
  if (YamlChild(root, "description").IsDefined())
    out["description"] = YAML::Clone(YamlChild(root, "description"));
  if (YamlChild(root, "author").IsDefined()) {
    absl::StatusOr<std::string> author = ScalarAt(files.root, YamlChild(root, "author"), "author");
    if (!author.ok()) return author.status();
    out["authors"].push_back(YAML::Node(YAML::NodeType::Map));
    out["authors"][0]["name"] = *author;
  }
  if (YamlChild(root, "version").IsDefined())
    out["version"] = YAML::Clone(YamlChild(root, "version"));

  return absl::OkStatus();
}

// Run files bind parameter values; the first file naming a task wins,
// with run/TASK.yaml preferred.
absl::StatusOr<std::map<std::string, const LegacyYamlFile*>> RunFilesByTask(
    const LegacyCubeFiles& files) {
  std::map<std::string, const LegacyYamlFile*> run_for_task;
  for (const LegacyYamlFile& run : files.run_files) {
    absl::StatusOr<std::string> task = RunFileTaskName(run);
    if (!task.ok()) return task.status();
    const bool preferred = Stem(run.display_name) == *task;
    auto existing = run_for_task.find(*task);
    if (existing == run_for_task.end() ||
        (preferred && Stem(existing->second->display_name) != *task)) {
      run_for_task[*task] = &run;
    }
  }

  return run_for_task;
}

// The tasks of tasks/*.yaml with their run file's bindings.
absl::StatusOr<YAML::Node> ConvertTasks(
    const LegacyCubeFiles& files,
    const std::map<std::string, const LegacyYamlFile*>& run_for_task) {
  YAML::Node tasks(YAML::NodeType::Map);
  for (const LegacyYamlFile& task_file : files.task_files) {
    const std::string task_name = Stem(task_file.display_name);
    if (!task_file.content.IsMap() && !task_file.content.IsNull()) {
      return Invalid(task_file, "inputs", "expected a mapping with inputs and outputs");
    }
    Bindings input_bindings;
    Bindings output_bindings;
    auto run = run_for_task.find(task_name);
    if (run != run_for_task.end()) {
      absl::StatusOr<Bindings> in = ReadBindings(*run->second, "input_binding");
      if (!in.ok()) return in.status();
      absl::StatusOr<Bindings> out_b = ReadBindings(*run->second, "output_binding");
      if (!out_b.ok()) return out_b.status();
      input_bindings = *in;
      output_bindings = *out_b;
    }
    YAML::Node task(YAML::NodeType::Map);
    YAML::Node inputs(YAML::NodeType::Map);
    YAML::Node outputs(YAML::NodeType::Map);
    const bool has_run = run != run_for_task.end();
    absl::Status status =
        ConvertParameterList(task_file, "inputs", input_bindings, has_run, inputs);
    if (!status.ok()) return status;
    status = ConvertParameterList(task_file, "outputs", output_bindings, has_run, outputs);
    if (!status.ok()) return status;
    task["parameters"]["inputs"] = inputs;
    task["parameters"]["outputs"] = outputs;
    tasks[task_name] = task;
  }
  const YAML::Node& const_tasks = tasks;
  for (const auto& [task_name, run] : run_for_task) {
    if (!YamlChild(const_tasks, task_name).IsDefined()) {
      return Invalid(
          *run, "task_name",
          absl::StrCat("task '", task_name, "' is not listed in ", files.root.display_name));
    }
  }

  return tasks;
}

// The platform files, and where the older runners built from.
absl::Status ConvertPlatforms(const LegacyCubeFiles& files, YAML::Node& out) {
  for (const LegacyYamlFile& platform : files.platform_files) {
    absl::StatusOr<YAML::Node> fragment = ConvertPlatformFile(platform);
    if (!fragment.ok()) return fragment.status();
    for (auto it = fragment->begin(); it != fragment->end(); ++it) {
      out[it->first.Scalar()] = YAML::Clone(it->second);
    }
  }
  // The old Docker runner built from build/ when it had a Dockerfile and
  // pulled otherwise; the old Singularity runner built from build/.
  const YAML::Node& const_out = out;
  if (YamlChild(const_out, "docker").IsDefined()) {
    out["docker"]["build_context"] = "build";
    out["docker"]["build_file"] = "Dockerfile";
    out["docker"]["build_strategy"] = files.has_dockerfile ? "auto" : "pull";
  }
  if (YamlChild(const_out, "singularity").IsDefined()) {
    out["singularity"]["build_context"] = "build";
    out["singularity"]["build_file"] = "Singularity.recipe";
  }
  return absl::OkStatus();
}

absl::StatusOr<YAML::Node> ConvertLegacyCubeUnguarded(const LegacyCubeFiles& files) {
  YAML::Node out(YAML::NodeType::Map);
  if (absl::Status s = ConvertHeader(files, out); !s.ok()) return s;
  absl::StatusOr<std::map<std::string, const LegacyYamlFile*>> run_for_task = RunFilesByTask(files);
  if (!run_for_task.ok()) return run_for_task.status();
  absl::StatusOr<YAML::Node> tasks = ConvertTasks(files, *run_for_task);
  if (!tasks.ok()) return tasks.status();
  out["tasks"] = *tasks;
  if (absl::Status s = ConvertPlatforms(files, out); !s.ok()) return s;
  return out;
}

}  // namespace

// The public entry points: yaml-cpp throws on some misuse of odd trees, and
// no exception may leave this module.
absl::StatusOr<std::vector<std::string>> LegacyTaskFilePaths(const LegacyYamlFile& root) {
  return GuardYaml<absl::StatusOr<std::vector<std::string>>>(
      root.display_name, [&] { return LegacyTaskFilePathsUnguarded(root); });
}

absl::StatusOr<YAML::Node> ConvertPlatformFile(const LegacyYamlFile& file) {
  return GuardYaml<absl::StatusOr<YAML::Node>>(file.display_name,
                                               [&] { return ConvertPlatformFileUnguarded(file); });
}

absl::StatusOr<std::pair<std::string, std::vector<std::string>>> RunFileAsOverrides(
    const LegacyYamlFile& run_file) {
  return GuardYaml<absl::StatusOr<std::pair<std::string, std::vector<std::string>>>>(
      run_file.display_name, [&] { return RunFileAsOverridesUnguarded(run_file); });
}

absl::StatusOr<YAML::Node> ConvertLegacyCube(const LegacyCubeFiles& files) {
  return GuardYaml<absl::StatusOr<YAML::Node>>(files.root.display_name,
                                               [&] { return ConvertLegacyCubeUnguarded(files); });
}

absl::Status CheckBindingsDeclared(const YAML::Node& converted,
                                   const std::vector<std::string>& overrides) {
  const YAML::Node& tasks = YamlChild(converted, "tasks");
  for (const std::string& assignment : overrides) {
    const std::string key = assignment.substr(0, assignment.find('='));
    const std::vector<std::string> parts = absl::StrSplit(key, '.');
    if (parts.size() < 5 || parts[0] != "tasks" || parts[2] != "parameters" ||
        (parts[3] != "inputs" && parts[3] != "outputs")) {
      continue;
    }
    const YAML::Node task = YamlChild(tasks, parts[1]);
    if (!task.IsDefined()) continue;  // the loader names an unknown task
    const YAML::Node group =
        YamlChild(YamlChild(YamlChild(task, "parameters"), parts[3]), parts[4]);
    if (group.IsDefined()) continue;
    return absl::InvalidArgumentError(
        absl::StrCat("tasks.", parts[1], ".parameters.", parts[3], ".", parts[4], ": tasks/",
                     parts[1], ".yaml declares no ", parts[3] == "inputs" ? "input" : "output",
                     " '", parts[4], "'; MLCube refuses a run file that binds it"));
  }
  return absl::OkStatus();
}

}  // namespace mlcube
