#include "controller/sweeps/sweep_record.h"

#include <dirent.h>

#include <algorithm>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/safe_path.h"
#include "common/yaml_field_reader.h"
#include "common/yaml_reader.h"

namespace mlcube {
namespace {

YAML::Node RunToYaml(const RunRecord& run) {
  YAML::Node node(YAML::NodeType::Map);
  node["id"] = run.id;
  node["index"] = run.index;
  node["repetition"] = run.repetition;
  YAML::Node values(YAML::NodeType::Map);
  for (const auto& [label, value] : run.values) values[label] = value;
  node["values"] = values;
  node["run_dir"] = run.run_dir;
  node["host"] = run.host;
  node["job_id"] = run.job_id;
  node["state"] = run.state;
  node["submitted_unix_ms"] = run.submitted_unix_ms;
  node["started_unix_ms"] = run.started_unix_ms;
  node["finished_unix_ms"] = run.finished_unix_ms;
  node["exit_code"] = run.exit_code;
  if (!run.reason.empty()) node["reason"] = run.reason;
  if (!run.metrics.empty()) {
    YAML::Node metrics(YAML::NodeType::Map);
    for (const auto& [key, value] : run.metrics) metrics[key] = value;
    node["metrics"] = metrics;
    if (run.metrics_live) node["metrics_live"] = true;
  }
  return node;
}

// Reads scalar fields with one-line errors naming the file and key path.
class RecordReader {
 public:
  explicit RecordReader(const std::string& file) : reader_(file) {}

  absl::Status Text(const YAML::Node& parent, const std::string& key, const std::string& path,
                    std::string* out) const {
    absl::StatusOr<std::string> value = reader_.String(parent, key, path);
    if (!value.ok()) return value.status();
    *out = *value;
    return absl::OkStatus();
  }

  template <typename Int>
  absl::Status Number(const YAML::Node& parent, const std::string& key, const std::string& path,
                      Int* out) const {
    std::string text;
    if (absl::Status status = Text(parent, key, path, &text); !status.ok()) return status;
    if (text.empty()) return absl::OkStatus();
    if (!absl::SimpleAtoi(text, out)) return reader_.Error(path, "expected an integer");
    return absl::OkStatus();
  }

  absl::Status Pairs(const YAML::Node& parent, const std::string& key, const std::string& path,
                     std::vector<std::pair<std::string, std::string>>* out) const {
    const YAML::Node node = YamlChild(parent, key);
    if (!node.IsDefined() || node.IsNull()) return absl::OkStatus();
    if (!node.IsMap()) return reader_.Error(path, "expected a mapping");
    for (const auto& entry : node) {
      if (!entry.first.IsScalar() || !entry.second.IsScalar()) {
        return reader_.Error(path, "expected scalar keys and values");
      }
      out->emplace_back(entry.first.Scalar(), entry.second.Scalar());
    }
    return absl::OkStatus();
  }

  const YamlFieldReader& fields() const { return reader_; }

 private:
  YamlFieldReader reader_;
};

absl::StatusOr<RunRecord> RunFromYaml(const RecordReader& reader, const YAML::Node& node,
                                      const std::string& path) {
  RunRecord run;
  if (!node.IsMap()) return reader.fields().Error(path, "expected a mapping");
  absl::Status status = reader.Text(node, "id", path + ".id", &run.id);
  if (status.ok()) status = reader.Number(node, "index", path + ".index", &run.index);
  if (status.ok())
    status = reader.Number(node, "repetition", path + ".repetition", &run.repetition);
  if (status.ok()) status = reader.Pairs(node, "values", path + ".values", &run.values);
  if (status.ok()) status = reader.Text(node, "run_dir", path + ".run_dir", &run.run_dir);
  if (status.ok()) status = reader.Text(node, "host", path + ".host", &run.host);
  if (status.ok()) status = reader.Text(node, "job_id", path + ".job_id", &run.job_id);
  if (status.ok()) status = reader.Text(node, "state", path + ".state", &run.state);
  if (status.ok()) {
    status = reader.Number(node, "submitted_unix_ms", path + ".submitted_unix_ms",
                           &run.submitted_unix_ms);
  }
  if (status.ok()) {
    status =
        reader.Number(node, "started_unix_ms", path + ".started_unix_ms", &run.started_unix_ms);
  }
  if (status.ok()) {
    status =
        reader.Number(node, "finished_unix_ms", path + ".finished_unix_ms", &run.finished_unix_ms);
  }
  if (status.ok()) status = reader.Number(node, "exit_code", path + ".exit_code", &run.exit_code);
  if (status.ok()) status = reader.Text(node, "reason", path + ".reason", &run.reason);
  std::vector<std::pair<std::string, std::string>> metrics;
  if (status.ok()) status = reader.Pairs(node, "metrics", path + ".metrics", &metrics);
  std::string live;
  if (status.ok()) status = reader.Text(node, "metrics_live", path + ".metrics_live", &live);
  if (!status.ok()) return status;
  run.metrics.insert(metrics.begin(), metrics.end());
  if (live == "true") {
    run.metrics_live = true;
  } else if (!live.empty() && live != "false") {
    return reader.fields().Error(path + ".metrics_live", "expected true or false");
  }
  if (run.id.empty()) return reader.fields().Error(path + ".id", "missing");
  // A record may come with a cube someone else wrote: its paths stay inside
  // the workspace.
  if (!run.run_dir.empty() && !ValidateRelativePath(run.run_dir).ok()) {
    return reader.fields().Error(path + ".run_dir", "expected a workspace-relative path");
  }
  return run;
}

// The checks on the whole record once read.
absl::StatusOr<SweepRecord> Finish(const RecordReader& reader, SweepRecord record) {
  if (record.id.empty()) return reader.fields().Error("id", "missing");
  if (!record.metrics_path.empty() && !ValidateRelativePath(record.metrics_path).ok()) {
    return reader.fields().Error("metrics", "expected a relative path");
  }
  return record;
}

absl::StatusOr<SweepRecord> RecordFromYaml(const RecordReader& reader, const YAML::Node& root) {
  SweepRecord record;
  if (!root.IsMap()) return reader.fields().Error("", "expected a mapping");
  absl::Status status = reader.Text(root, "id", "id", &record.id);
  if (status.ok()) status = reader.Text(root, "cube", "cube", &record.cube);
  if (status.ok()) {
    status = reader.Number(root, "created_unix_ms", "created_unix_ms", &record.created_unix_ms);
  }
  if (status.ok()) status = reader.Text(root, "metrics", "metrics", &record.metrics_path);
  if (!status.ok()) return status;
  for (const char* list : {"tasks", "axes"}) {
    const YAML::Node node = YamlChild(root, list);
    std::vector<std::string>* out = std::string(list) == "tasks" ? &record.tasks : &record.axes;
    if (!node.IsDefined() || node.IsNull()) continue;
    if (!node.IsSequence()) return reader.fields().Error(list, "expected a list");
    for (const YAML::Node& item : node) {
      if (!item.IsScalar()) return reader.fields().Error(list, "expected scalars");
      out->push_back(item.Scalar());
    }
  }
  const YAML::Node runs = YamlChild(root, "runs");
  // An absent key is an invalid node: only IsDefined() may be asked of it.
  if (!runs.IsDefined() || runs.IsNull()) return Finish(reader, std::move(record));
  if (!runs.IsSequence()) return reader.fields().Error("runs", "expected a list");
  for (size_t i = 0; i < runs.size(); ++i) {
    absl::StatusOr<RunRecord> run = RunFromYaml(reader, runs[i], absl::StrCat("runs.", i));
    if (!run.ok()) return run.status();
    record.runs.push_back(std::move(*run));
  }
  return Finish(reader, std::move(record));
}

}  // namespace

std::string SweepRecord::PathFor(const std::string& workspace, const std::string& sweep_id) {
  return absl::StrCat(workspace, "/runs/", sweep_id, "/sweep.yaml");
}

absl::Status SweepRecord::Save(const std::string& path) const {
  YAML::Node root(YAML::NodeType::Map);
  root["id"] = id;
  root["cube"] = cube;
  YAML::Node task_list(YAML::NodeType::Sequence);
  for (const std::string& task : tasks) task_list.push_back(task);
  root["tasks"] = task_list;
  YAML::Node axis_list(YAML::NodeType::Sequence);
  for (const std::string& axis : axes) axis_list.push_back(axis);
  root["axes"] = axis_list;
  root["created_unix_ms"] = created_unix_ms;
  if (!metrics_path.empty()) root["metrics"] = metrics_path;
  YAML::Node run_list(YAML::NodeType::Sequence);
  for (const RunRecord& run : runs) run_list.push_back(RunToYaml(run));
  root["runs"] = run_list;
  const std::string directory = path.substr(0, path.find_last_of('/'));
  if (absl::Status made = MakeDirs(directory); !made.ok()) return made;
  return WriteFileAtomically(path, EmitYaml(root) + "\n", 0644);
}

absl::StatusOr<SweepRecord> SweepRecord::LoadById(const std::string& workspace,
                                                  const std::string& sweep_id) {
  if (sweep_id.empty() || sweep_id.find('/') != std::string::npos || sweep_id == "." ||
      sweep_id == "..") {
    return absl::InvalidArgumentError(absl::StrCat("sweep '", sweep_id, "': expected a sweep id"));
  }
  return Load(PathFor(workspace, sweep_id));
}

absl::StatusOr<SweepRecord> SweepRecord::Load(const std::string& path) {
  absl::StatusOr<YAML::Node> root = ReadYamlFile(path, path);
  if (!root.ok()) return root.status();
  RecordReader reader(path);
  return GuardYaml<absl::StatusOr<SweepRecord>>(path,
                                                [&] { return RecordFromYaml(reader, *root); });
}

std::vector<SweepRecord> SweepRecord::LoadAll(const std::string& workspace,
                                              std::vector<std::string>* errors) {
  std::vector<SweepRecord> records;
  const std::string runs_dir = workspace + "/runs";
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(runs_dir.c_str()), ::closedir);
  if (!dir) return records;
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string path = PathFor(workspace, name);
    absl::StatusOr<SweepRecord> record = Load(path);
    if (record.ok()) {
      records.push_back(std::move(*record));
    } else if (record.status().code() != absl::StatusCode::kNotFound) {
      errors->push_back(std::string(record.status().message()));
    }
  }
  std::stable_sort(records.begin(), records.end(), [](const SweepRecord& a, const SweepRecord& b) {
    return a.created_unix_ms < b.created_unix_ms;
  });
  return records;
}

std::string RunRecord::Label() const {
  std::vector<std::string> parts;
  for (const auto& [label, value] : values) {
    parts.push_back(absl::StrCat(label.substr(label.find_last_of(":.") + 1), "=", value));
  }
  if (repetition > 0 || parts.empty()) parts.push_back(absl::StrCat("#", id));
  return absl::StrJoin(parts, " ");
}

}  // namespace mlcube
