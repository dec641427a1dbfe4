#include "controller/sweeps/run_inputs.h"

#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/config_tree.h"
#include "common/cube_loader.h"
#include "common/file_util.h"
#include "common/safe_path.h"
#include "common/yaml_reader.h"
#include "controller/sweeps/json_writer.h"

namespace mlcube {
namespace {

std::string BaseName(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

std::string Relative(const std::string& path, const std::string& root) {
  return path == root ? "" : path.substr(root.size() + 1);
}

// Emits `node` as YAML, keeping what a reader of the file would see: a
// scalar that was quoted stays quoted (yaml-cpp's emitter would write "123"
// as 123, turning a string into a number), flow collections stay flow.
void EmitKeepingTypes(const YAML::Node& node, YAML::Emitter* out) {
  if (node.IsMap() || node.IsSequence()) {
    if (node.Style() == YAML::EmitterStyle::Flow) *out << YAML::Flow;
    *out << (node.IsMap() ? YAML::BeginMap : YAML::BeginSeq);
    for (const auto& item : node) {
      if (node.IsMap()) {
        *out << YAML::Key;
        EmitKeepingTypes(item.first, out);
        *out << YAML::Value;
        EmitKeepingTypes(item.second, out);
      } else {
        EmitKeepingTypes(item, out);
      }
    }
    *out << (node.IsMap() ? YAML::EndMap : YAML::EndSeq);
  } else if (node.IsScalar()) {
    if (node.Tag() == "!") *out << YAML::DoubleQuoted;
    *out << node.Scalar();
  } else {
    *out << YAML::Null;
  }
}

std::string YamlKeepingTypes(const YAML::Node& node) {
  YAML::Emitter out;
  EmitKeepingTypes(node, &out);
  return out.c_str();
}

}  // namespace

RunInputs::RunInputs(const Cube* cube, std::vector<std::string> tasks, std::string sweep_id)
    : cube_(cube), tasks_(std::move(tasks)), sweep_id_(std::move(sweep_id)) {}

std::string RunInputs::RunDir(const std::string& sweep_id, const std::string& run_id) {
  return absl::StrCat("runs/", sweep_id, "/", run_id);
}

std::string RunInputs::DefaultKey(const std::string& task, const std::string& direction,
                                  const std::string& parameter) const {
  const std::string key = absl::StrCat("tasks.", task, ".parameters.", direction, ".", parameter);
  // A parameter written as a bare path has no `default` key to set.
  const YAML::Node written = FindKeyPath(cube_->written_config, key);
  return written.IsDefined() && written.IsScalar() ? key : absl::StrCat(key, ".default");
}

const Parameter* RunInputs::FindInput(const std::string& name) const {
  for (const std::string& task : tasks_) {
    auto it = cube_->tasks.find(task);
    if (it == cube_->tasks.end()) continue;
    for (const Parameter& input : it->second.inputs) {
      if (input.name == name) return &input;
    }
  }
  return nullptr;
}

absl::Status RunInputs::WriteSweptFile(const Parameter& input, const std::vector<AxisValue>& values,
                                       const std::string& destination) const {
  absl::StatusOr<YAML::Node> root = ReadYamlFile(input.host_path, input.host_path);
  if (!root.ok()) return root.status();
  if (!root->IsMap() && !root->IsNull()) {
    return absl::InvalidArgumentError(absl::StrCat(
        input.host_path, ": expected a mapping to set keys in, got ", DescribeNodeKind(*root)));
  }
  YAML::Node copy = YAML::Clone(*root);
  if (copy.IsNull()) copy = YAML::Node(YAML::NodeType::Map);
  for (const auto& entry : values) {
    const auto& target = entry.first;
    const auto& value = entry.second;
    if (target.parameter != input.name) continue;
    absl::Status set = GuardYaml<absl::Status>(input.host_path, [&] {
      return ApplyOverride(copy, absl::StrCat(target.key_path, "=", value));
    });
    if (!set.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--sweep ", target.Label(), ": ", input.host_path, ": ", set.message()));
    }
  }
  const bool json = absl::EndsWith(absl::AsciiStrToLower(input.host_path), ".json");
  std::string text = json ? JsonWriter::FromYaml(copy) : YamlKeepingTypes(copy);
  if (text.empty() || text.back() != '\n') text.push_back('\n');
  const std::string directory = destination.substr(0, destination.find_last_of('/'));
  if (absl::Status made = MakeDirs(directory); !made.ok()) return made;
  return WriteFileAtomically(destination, text, 0644);
}

std::vector<std::string> RunInputs::WorkspaceOutputs() const {
  return WorkspaceOutputPaths(*cube_, tasks_);
}

void RunInputs::AddOutputs(const std::string& run_dir, RunPlan* plan) const {
  std::set<std::string> seen;
  for (const std::string& task : tasks_) {
    auto it = cube_->tasks.find(task);
    if (it == cube_->tasks.end()) continue;
    for (const Parameter& output : it->second.outputs) {
      if (!IsWithin(output.host_path, cube_->workspace) || output.host_path == cube_->workspace) {
        plan->shared_outputs.push_back(output.host_path);
        continue;
      }
      const std::string relative = Relative(output.host_path, cube_->workspace);
      const bool directory =
          output.type == ParameterType::kDirectory || absl::EndsWith(output.default_value, "/");
      const std::string moved = absl::StrCat(run_dir, "/", relative);
      plan->overrides.push_back(
          absl::StrCat(DefaultKey(task, "outputs", output.name), "=", moved, directory ? "/" : ""));
      if (seen.insert(moved).second) plan->output_paths.push_back(moved);
    }
  }
}

absl::StatusOr<RunPlan> RunInputs::Prepare(const SweepRunSpec& run) const {
  RunPlan plan;
  plan.run_dir = RunDir(sweep_id_, run.id);
  // Which file parameters this run sets keys in, each copied once.
  std::map<std::string, const Parameter*> swept;
  for (const auto& [target, value] : run.values) {
    if (target.is_config()) {
      plan.overrides.push_back(absl::StrCat(target.key_path, "=", value));
      continue;
    }
    const Parameter* input = FindInput(target.parameter);
    if (input == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--sweep ", target.Label(), ": no input parameter '", target.parameter, "'"));
    }
    swept[input->name] = input;
  }
  std::set<std::string> file_names;
  for (const auto& [name, input] : swept) {
    const std::string file_name = BaseName(input->host_path);
    if (!file_names.insert(file_name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--sweep ", name, ": two swept parameters share the file name ", file_name));
    }
    const std::string relative = absl::StrCat(plan.run_dir, "/", file_name);
    absl::Status written =
        WriteSweptFile(*input, run.values, absl::StrCat(cube_->workspace, "/", relative));
    if (!written.ok()) return written;
    for (const std::string& task : tasks_) {
      auto it = cube_->tasks.find(task);
      if (it == cube_->tasks.end()) continue;
      for (const Parameter& other : it->second.inputs) {
        if (other.name != name) continue;
        plan.overrides.push_back(absl::StrCat(DefaultKey(task, "inputs", name), "=", relative));
      }
    }
  }
  AddOutputs(plan.run_dir, &plan);
  plan.overrides.push_back(absl::StrCat("run.index=", run.index));
  plan.overrides.push_back(absl::StrCat("run.repetition=", run.repetition));
  plan.overrides.push_back(absl::StrCat("run.id=", run.id));
  plan.overrides.push_back(absl::StrCat("run.sweep=", sweep_id_));
  return plan;
}

}  // namespace mlcube
