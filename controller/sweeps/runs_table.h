#ifndef MLCUBE_REMOTE_CONTROLLER_SWEEPS_RUNS_TABLE_H_
#define MLCUBE_REMOTE_CONTROLLER_SWEEPS_RUNS_TABLE_H_

// The table `mlcube-remote runs` prints: one row per run of the given
// sweeps with its id (SWEEP/RUN), swept values (one column per axis), host,
// job, state, duration, exit code, where its metrics come from ("live":
// the agent's read while the run went on; "pulled": the run's file after
// the pull) and one column per metric. Built from the
// sweep records only (no file per run is opened), so 1,000 runs stay well
// under the 200 ms a user notices.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/sweeps/sweep_record.h"

namespace mlcube {

struct RunsTableOptions {
  std::string host;   // only runs on this host, when set
  std::string state;  // only runs in this state (case-insensitive), when set
  // A column name; a leading '-' sorts descending. Numbers compare as
  // numbers; empty cells sort last. Empty: sweep order.
  std::string sort;
};

class RunsTable {
 public:
  // INVALID_ARGUMENT when `sort` names no column (the message lists them).
  static absl::StatusOr<RunsTable> Build(const std::vector<SweepRecord>& sweeps,
                                         const RunsTableOptions& options, int64_t now_unix_ms);

  const std::vector<std::string>& columns() const { return columns_; }
  const std::vector<std::vector<std::string>>& rows() const { return rows_; }

  // Aligned columns with a header line. Metrics read live from the agent
  // (column metrics = live) are shown as ~VALUE.
  std::string RenderText() const;
  // An array of objects, one per row; numeric cells as JSON numbers.
  std::string RenderJson() const;
  // RFC 4180: a header row, cells quoted when they need it.
  std::string RenderCsv() const;

 private:
  absl::Status Sort(const std::string& key);
  // rows_ with live metric values marked for the text table.
  std::vector<std::vector<std::string>> TextCells() const;

  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SWEEPS_RUNS_TABLE_H_
