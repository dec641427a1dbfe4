#include "controller/sweeps/sweep_spec.h"

#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/yaml_reader.h"

namespace mlcube {
namespace {

absl::Status Bad(const std::string& what, const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", message));
}

bool ValidKeyPath(const std::string& key_path) {
  if (key_path.empty() || key_path.find_first_of(" =\n\t") != std::string::npos) return false;
  for (absl::string_view part : absl::StrSplit(key_path, '.')) {
    if (part.empty()) return false;
  }
  return true;
}

bool IsStructuredFile(const std::string& path) {
  const std::string lower = absl::AsciiStrToLower(path);
  return absl::EndsWith(lower, ".yaml") || absl::EndsWith(lower, ".yml") ||
         absl::EndsWith(lower, ".json");
}

}  // namespace

std::string AxisTarget::Label() const {
  return absl::StrCat(is_config() ? "-P" : parameter, ":", key_path);
}

absl::StatusOr<AxisTarget> AxisTarget::FromLabel(const std::string& label,
                                                 const std::string& context) {
  const size_t colon = label.find(':');
  if (colon == std::string::npos || colon == 0) {
    return Bad(context, "expected PARAM:key.path or -P:key.path");
  }
  AxisTarget target;
  const std::string head = label.substr(0, colon);
  if (head != "-P") target.parameter = head;
  target.key_path = label.substr(colon + 1);
  if (!ValidKeyPath(target.key_path)) {
    return Bad(context, absl::StrCat("bad key path '", target.key_path,
                                     "' (dotted names, no empty parts, spaces or '=')"));
  }
  if (!target.is_config() && target.parameter.find_first_of(" =/.") != std::string::npos) {
    return Bad(context, absl::StrCat("bad parameter name '", target.parameter, "'"));
  }
  return target;
}

absl::StatusOr<SweepSpec> SweepSpec::Parse(const std::vector<std::string>& axes,
                                           const std::string& sweep_file, int repeat) {
  SweepSpec spec;
  if (repeat < 1 || repeat > kMaxRuns) {
    return Bad("--repeat", absl::StrCat("expected 1..", kMaxRuns, ", got ", repeat));
  }
  spec.repeat_ = repeat;
  for (const std::string& axis : axes) {
    if (absl::Status status = spec.AddAxis(axis); !status.ok()) return status;
  }
  if (!sweep_file.empty()) {
    if (absl::Status status = spec.LoadPoints(sweep_file); !status.ok()) return status;
  }
  if (spec.RunCount() > static_cast<size_t>(kMaxRuns)) {
    return Bad("--sweep",
               absl::StrCat("expands to ", spec.RunCount(), " runs (at most ", kMaxRuns, ")"));
  }
  return spec;
}

absl::Status SweepSpec::AddAxis(const std::string& text) {
  const std::string context = absl::StrCat("--sweep=", text);
  const size_t eq = text.find('=');
  if (eq == std::string::npos) return Bad(context, "expected PARAM:key.path=v1,v2,...");
  absl::StatusOr<AxisTarget> target = AxisTarget::FromLabel(text.substr(0, eq), context);
  if (!target.ok()) return target.status();
  SweepAxis axis{*target, {}};
  for (absl::string_view value : absl::StrSplit(text.substr(eq + 1), ',')) {
    if (!value.empty()) axis.values.emplace_back(value);
  }
  if (axis.values.empty()) return Bad(context, "empty value list");
  for (const std::string& label : Labels()) {
    if (label == target->Label()) {
      return Bad(context, absl::StrCat("duplicate axis ", label));
    }
  }
  axes_.push_back(std::move(axis));
  return absl::OkStatus();
}

absl::Status SweepSpec::LoadPoints(const std::string& sweep_file) {
  const std::string context = absl::StrCat("--sweep-file ", sweep_file);
  absl::StatusOr<YAML::Node> root = ReadYamlFile(sweep_file, sweep_file);
  if (!root.ok()) return root.status();
  YAML::Node points = root->IsMap() ? YamlChild(*root, "points") : *root;
  if (!points.IsDefined() || !points.IsSequence() || points.size() == 0) {
    return Bad(context, "expected a non-empty list of points (mappings of PARAM:key.path: value)");
  }
  std::set<std::string> axis_labels;
  for (const SweepAxis& axis : axes_) axis_labels.insert(axis.target.Label());
  for (size_t i = 0; i < points.size(); ++i) {
    const std::string where = absl::StrCat(context, ": point ", i);
    const YAML::Node point = points[i];
    if (!point.IsMap() || point.size() == 0) return Bad(where, "expected a non-empty mapping");
    std::vector<AxisValue> values;
    for (const auto& entry : point) {
      if (!entry.first.IsScalar() || !entry.second.IsScalar()) {
        return Bad(where, "keys and values must be scalars");
      }
      const std::string label = entry.first.Scalar();
      absl::StatusOr<AxisTarget> target =
          AxisTarget::FromLabel(label, absl::StrCat(where, ": ", label));
      if (!target.ok()) return target.status();
      if (axis_labels.count(target->Label()) != 0) {
        return Bad(where, absl::StrCat("duplicate axis ", label, " (also a --sweep axis)"));
      }
      values.emplace_back(*target, entry.second.Scalar());
    }
    points_.push_back(std::move(values));
  }
  return absl::OkStatus();
}

absl::Status SweepSpec::Validate(const Cube& cube, const std::vector<std::string>& tasks) const {
  for (const AxisTarget& target : Targets()) {
    if (target.is_config()) continue;
    const std::string context = absl::StrCat("--sweep ", target.Label());
    const Parameter* found = nullptr;
    std::vector<std::string> known;
    for (const std::string& task : tasks) {
      auto it = cube.tasks.find(task);
      if (it == cube.tasks.end()) continue;
      for (const Parameter& input : it->second.inputs) {
        if (input.type != ParameterType::kDirectory) known.push_back(input.name);
        if (input.name == target.parameter) found = &input;
      }
      for (const Parameter& output : it->second.outputs) {
        if (output.name == target.parameter) {
          return Bad(context, absl::StrCat("'", target.parameter,
                                           "' is an output; a sweep sets keys in input files"));
        }
      }
    }
    if (found == nullptr) {
      return Bad(context, absl::StrCat("no input parameter '", target.parameter, "' in task ",
                                       absl::StrJoin(tasks, ","), " (file inputs: ",
                                       known.empty() ? "none" : absl::StrJoin(known, ", "), ")"));
    }
    if (found->type == ParameterType::kDirectory || !IsStructuredFile(found->host_path)) {
      return Bad(context, absl::StrCat("'", target.parameter, "' is ", found->default_value,
                                       ", not a .yaml, .yml or .json file"));
    }
    struct stat info;
    if (::stat(found->host_path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
      return Bad(context, absl::StrCat(found->host_path, " is not a file here"));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> SweepSpec::Labels() const {
  std::vector<std::string> labels;
  for (const AxisTarget& target : Targets()) labels.push_back(target.Label());
  return labels;
}

std::vector<AxisTarget> SweepSpec::Targets() const {
  std::vector<AxisTarget> targets;
  std::set<std::string> seen;
  const auto add = [&](const AxisTarget& target) {
    if (seen.insert(target.Label()).second) targets.push_back(target);
  };
  for (const auto& point : points_) {
    for (const AxisValue& value : point) add(value.first);
  }
  for (const SweepAxis& axis : axes_) add(axis.target);
  return targets;
}

size_t SweepSpec::RunCount() const {
  size_t count = points_.empty() ? 1 : points_.size();
  for (const SweepAxis& axis : axes_) {
    count *= axis.values.size();
    if (count > static_cast<size_t>(kMaxRuns)) return count;  // no overflow
  }
  return count * static_cast<size_t>(repeat_);
}

std::vector<SweepRunSpec> SweepSpec::Runs() const {
  std::vector<std::vector<AxisValue>> combos =
      points_.empty() ? std::vector<std::vector<AxisValue>>{{}} : points_;
  for (const SweepAxis& axis : axes_) {
    std::vector<std::vector<AxisValue>> next;
    for (const auto& combo : combos) {
      for (const std::string& value : axis.values) {
        next.push_back(combo);
        next.back().emplace_back(axis.target, value);
      }
    }
    combos = std::move(next);
  }
  std::vector<SweepRunSpec> runs;
  const size_t total = combos.size() * static_cast<size_t>(repeat_);
  const int width = std::max<int>(3, std::to_string(total > 0 ? total - 1 : 0).size());
  for (const auto& combo : combos) {
    for (int repetition = 0; repetition < repeat_; ++repetition) {
      SweepRunSpec run;
      run.index = static_cast<int>(runs.size());
      run.repetition = repetition;
      run.id = absl::StrFormat("r%0*d", width, run.index);
      run.values = combo;
      runs.push_back(std::move(run));
    }
  }
  return runs;
}

}  // namespace mlcube
