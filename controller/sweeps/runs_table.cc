#include "controller/sweeps/runs_table.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/json_quote.h"
#include "controller/sweeps/json_writer.h"
#include "controller/terminal/text_columns.h"

namespace mlcube {
namespace {

const std::vector<std::string> kFixedColumns = {"host", "job", "state", "duration_s", "exit_code"};
// "live" (read from the agent while the run went on) or "pulled"; only when
// some run has metrics.
const char kMetricsSourceColumn[] = "metrics";

std::string Duration(const RunRecord& run, int64_t now_unix_ms) {
  if (run.started_unix_ms <= 0) return "";
  const int64_t end = run.finished_unix_ms > 0 ? run.finished_unix_ms : now_unix_ms;
  return absl::StrFormat("%.1f", std::max<int64_t>(0, end - run.started_unix_ms) / 1000.0);
}

std::vector<std::string> Row(const SweepRecord& sweep, const RunRecord& run,
                             const std::map<std::string, size_t>& column_of, size_t width,
                             int64_t now_unix_ms) {
  std::vector<std::string> row(width);
  row[0] = absl::StrCat(sweep.id, "/", run.id);
  for (const auto& [label, value] : run.values) row[column_of.at(label)] = value;
  row[column_of.at("host")] = run.host;
  row[column_of.at("job")] = run.job_id;
  row[column_of.at("state")] = run.state;
  row[column_of.at("duration_s")] = Duration(run, now_unix_ms);
  row[column_of.at("exit_code")] = run.finished() ? absl::StrCat(run.exit_code) : "";
  for (const auto& [key, value] : run.metrics) row[column_of.at("metric:" + key)] = value;
  auto source = column_of.find(kMetricsSourceColumn);
  if (source != column_of.end() && !run.metrics.empty()) {
    row[source->second] = run.metrics_live ? "live" : "pulled";
  }
  return row;
}

bool Keep(const RunRecord& run, const RunsTableOptions& options) {
  if (!options.host.empty() && run.host != options.host) return false;
  return options.state.empty() || absl::EqualsIgnoreCase(run.state, options.state);
}

// Columns that are names even when they look like numbers (a job id).
bool IsTextColumn(const std::string& name) {
  return name == "id" || name == "host" || name == "job" || name == "state" ||
         name == kMetricsSourceColumn;
}

std::string CsvCell(const std::string& cell) {
  if (cell.find_first_of(",\"\n\r") == std::string::npos) return cell;
  std::string out = "\"";
  for (char c : cell) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

absl::StatusOr<RunsTable> RunsTable::Build(const std::vector<SweepRecord>& sweeps,
                                           const RunsTableOptions& options, int64_t now_unix_ms) {
  RunsTable table;
  std::map<std::string, size_t> column_of;
  const auto add_column = [&](const std::string& key, const std::string& name) {
    if (column_of.emplace(key, table.columns_.size()).second) table.columns_.push_back(name);
  };
  add_column("id", "id");
  std::set<std::string> metric_names;
  for (const SweepRecord& sweep : sweeps) {
    for (const std::string& axis : sweep.axes) add_column(axis, axis);
    for (const RunRecord& run : sweep.runs) {
      for (const auto& [label, unused] : run.values) add_column(label, label);
      for (const auto& [key, unused] : run.metrics) metric_names.insert(key);
    }
  }
  for (const std::string& column : kFixedColumns) add_column(column, column);
  if (!metric_names.empty()) add_column(kMetricsSourceColumn, kMetricsSourceColumn);
  // A metric named like a fixed column or an axis still gets its own column.
  for (const std::string& metric : metric_names) {
    add_column("metric:" + metric,
               column_of.count(metric) != 0 ? absl::StrCat("metric.", metric) : metric);
  }
  for (const SweepRecord& sweep : sweeps) {
    for (const RunRecord& run : sweep.runs) {
      if (!Keep(run, options)) continue;
      table.rows_.push_back(Row(sweep, run, column_of, table.columns_.size(), now_unix_ms));
    }
  }
  if (!options.sort.empty()) {
    if (absl::Status sorted = table.Sort(options.sort); !sorted.ok()) return sorted;
  }
  return table;
}

absl::Status RunsTable::Sort(const std::string& key) {
  const bool descending = key[0] == '-';
  const std::string name = descending || key[0] == '+' ? key.substr(1) : key;
  auto it = std::find(columns_.begin(), columns_.end(), name);
  if (it == columns_.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--sort=", key, ": no column '", name, "' (columns: ", absl::StrJoin(columns_, ", "), ")"));
  }
  const size_t column = static_cast<size_t>(it - columns_.begin());
  std::stable_sort(rows_.begin(), rows_.end(), [&](const auto& a, const auto& b) {
    const std::string& x = a[column];
    const std::string& y = b[column];
    if (x.empty() || y.empty()) return !x.empty() && y.empty();  // empty last
    double dx, dy;
    if (absl::SimpleAtod(x, &dx) && absl::SimpleAtod(y, &dy)) {
      return descending ? dx > dy : dx < dy;
    }
    return descending ? x > y : x < y;
  });
  return absl::OkStatus();
}

std::vector<std::vector<std::string>> RunsTable::TextCells() const {
  std::vector<std::vector<std::string>> rows = rows_;
  auto source = std::find(columns_.begin(), columns_.end(), kMetricsSourceColumn);
  if (source == columns_.end()) return rows;
  const size_t source_column = static_cast<size_t>(source - columns_.begin());
  for (auto& row : rows) {
    if (row[source_column] != "live") continue;
    for (size_t c = source_column + 1; c < row.size(); ++c) {
      if (!row[c].empty()) row[c] = "~" + row[c];
    }
  }
  return rows;
}

std::string RunsTable::RenderText() const {
  std::vector<std::vector<std::string>> rows = TextCells();
  rows.insert(rows.begin(), columns_);
  return FormatColumns(rows);
}

std::string RunsTable::RenderJson() const {
  std::string out = "[";
  for (size_t r = 0; r < rows_.size(); ++r) {
    absl::StrAppend(&out, r == 0 ? "\n  {" : ",\n  {");
    bool first = true;
    for (size_t c = 0; c < columns_.size(); ++c) {
      const std::string& cell = rows_[r][c];
      if (cell.empty()) continue;
      absl::StrAppend(
          &out, first ? "" : ", ", JsonQuote(columns_[c]), ": ",
          JsonWriter::IsNumber(cell) && !IsTextColumn(columns_[c]) ? cell : JsonQuote(cell));
      first = false;
    }
    out.push_back('}');
  }
  absl::StrAppend(&out, rows_.empty() ? "]\n" : "\n]\n");
  return out;
}

std::string RunsTable::RenderCsv() const {
  std::string out;
  const auto line = [&](const std::vector<std::string>& cells) {
    std::vector<std::string> quoted;
    for (const std::string& cell : cells) quoted.push_back(CsvCell(cell));
    absl::StrAppend(&out, absl::StrJoin(quoted, ","), "\r\n");
  };
  line(columns_);
  for (const auto& row : rows_) line(row);
  return out;
}

}  // namespace mlcube
