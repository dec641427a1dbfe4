#include "controller/sweeps/metrics_reader.h"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/yaml_reader.h"

namespace mlcube {
namespace {

void Flatten(const YAML::Node& node, const std::string& prefix,
             std::map<std::string, std::string>* out) {
  if (node.IsScalar()) {
    out->emplace(prefix.empty() ? "value" : prefix, node.Scalar());
    return;
  }
  if (node.IsMap()) {
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) continue;
      const std::string key = entry.first.Scalar();
      Flatten(entry.second, prefix.empty() ? key : absl::StrCat(prefix, ".", key), out);
    }
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      Flatten(node[i], prefix.empty() ? absl::StrCat(i) : absl::StrCat(prefix, ".", i), out);
    }
  }
}

absl::Status OverLimit(const std::string& path) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": metrics file over ", MetricsReader::kMaxBytes >> 20, " MiB"));
}

absl::StatusOr<std::string> ReadBounded(const std::string& path) {
  // A pulled output keeps the symlinks the task made: never follow one
  // (metrics/results.yaml -> ~/.ssh/...).
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, S_ISLNK(st.st_mode) ? ": a symbolic link; not read" : ": not a regular file"));
    }
    // Refused before reading when it can be; checked again after.
    if (static_cast<uint64_t>(st.st_size) > MetricsReader::kMaxBytes) return OverLimit(path);
  }
  absl::StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  if (text->size() > MetricsReader::kMaxBytes) return OverLimit(path);
  return text;
}

absl::StatusOr<std::map<std::string, std::string>> FlattenText(const std::string& text,
                                                               const std::string& where) {
  absl::StatusOr<YAML::Node> root = ParseYaml(text, where);
  if (!root.ok()) return root.status();
  if (!root->IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": expected a mapping of metrics, got ", DescribeNodeKind(*root)));
  }
  std::map<std::string, std::string> values;
  absl::Status status = GuardYaml<absl::Status>(where, [&] {
    Flatten(*root, "", &values);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return values;
}

// Each line is bounded by the YAML reader; the lines together by this, so a
// file of many small lines cannot grow into gigabytes of parsed steps.
constexpr size_t kMaxCurveValues = 1000000;

// The steps of a JSON-lines text, each flattened.
absl::StatusOr<std::vector<std::map<std::string, std::string>>> ParseLines(
    const std::string& text, const std::string& path) {
  std::vector<std::map<std::string, std::string>> steps;
  size_t values = 0;
  const std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    const absl::string_view line = absl::StripAsciiWhitespace(lines[i]);
    if (line.empty()) continue;
    const bool last_unterminated = i + 1 == lines.size();
    absl::StatusOr<std::map<std::string, std::string>> step =
        FlattenText(std::string(line), absl::StrCat(path, ":", i + 1));
    if (!step.ok()) {
      if (last_unterminated) break;  // still being written
      return step.status();
    }
    values += step->size();
    if (values > kMaxCurveValues) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", i + 1, ": more than ",
                                                     kMaxCurveValues, " values in all (limit)"));
    }
    steps.push_back(std::move(*step));
  }
  return steps;
}

}  // namespace

bool MetricsReader::IsJsonLines(const std::string& path) {
  const std::string lower = absl::AsciiStrToLower(path);
  return absl::EndsWith(lower, ".jsonl") || absl::EndsWith(lower, ".ndjson");
}

absl::StatusOr<std::map<std::string, std::string>> MetricsReader::ReadLatest(
    const std::string& path) {
  absl::StatusOr<std::string> text = ReadBounded(path);
  if (!text.ok()) return text.status();
  return ParseLatest(*text, path);
}

absl::StatusOr<std::map<std::string, std::string>> MetricsReader::ParseLatest(
    const std::string& text, const std::string& path) {
  if (!IsJsonLines(path)) return FlattenText(text, path);
  absl::StatusOr<std::vector<std::map<std::string, std::string>>> steps = ParseLines(text, path);
  if (!steps.ok()) return steps.status();
  if (steps->empty()) return std::map<std::string, std::string>{};
  return steps->back();
}

absl::StatusOr<std::vector<MetricsStep>> MetricsReader::ReadCurve(const std::string& path) {
  absl::StatusOr<std::string> text = ReadBounded(path);
  if (!text.ok()) return text.status();
  return ParseCurve(*text, path);
}

absl::StatusOr<std::vector<MetricsStep>> MetricsReader::ParseCurve(const std::string& text,
                                                                   const std::string& path) {
  std::vector<std::map<std::string, std::string>> raw;
  if (IsJsonLines(path)) {
    absl::StatusOr<std::vector<std::map<std::string, std::string>>> steps = ParseLines(text, path);
    if (!steps.ok()) return steps.status();
    raw = std::move(*steps);
  } else {
    absl::StatusOr<std::map<std::string, std::string>> values = FlattenText(text, path);
    if (!values.ok()) return values.status();
    raw.push_back(std::move(*values));
  }
  std::vector<MetricsStep> steps;
  for (const auto& values : raw) {
    MetricsStep step;
    for (const auto& [key, value] : values) {
      double number;
      if (absl::SimpleAtod(value, &number)) step[key] = number;
    }
    steps.push_back(std::move(step));
  }
  return steps;
}

}  // namespace mlcube
