#ifndef MLCUBE_REMOTE_CONTROLLER_SWEEPS_SWEEP_RECORD_H_
#define MLCUBE_REMOTE_CONTROLLER_SWEEPS_SWEEP_RECORD_H_

// WORKSPACE/runs/SWEEP/sweep.yaml: what a sweep was and what became of each
// run (values, host, job id, state, timings, exit code, latest metrics).
// Saved atomically after every change, so a reader (`runs`, another
// terminal) never sees half a file. Loading treats the file as hostile: a
// malformed record is one INVALID_ARGUMENT line naming the file and key.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mlcube {

struct RunRecord {
  std::string id;  // "r000"
  int index = 0;
  int repetition = 0;
  // Axis label -> value, in axis order.
  std::vector<std::pair<std::string, std::string>> values;
  std::string run_dir;  // workspace-relative
  std::string host;
  std::string job_id;
  // PENDING (not submitted), QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED,
  // DETACHED (submitted; nobody is watching).
  std::string state = "PENDING";
  int64_t submitted_unix_ms = 0;
  int64_t started_unix_ms = 0;
  int64_t finished_unix_ms = 0;
  int exit_code = 0;
  std::string reason;
  // Latest scalar metrics, "dotted.key" -> value as written.
  std::map<std::string, std::string> metrics;
  // The metrics were read from the agent while the run went on (the tail
  // of its metrics file), not from the pulled file.
  bool metrics_live = false;

  // "lr=0.1 batch=32": the run's values by the last part of each axis label
  // (its id "#r003" added for repetitions, or alone without values).
  std::string Label() const;

  bool finished() const {
    return state == "SUCCEEDED" || state == "FAILED" || state == "CANCELLED";
  }
};

struct SweepRecord {
  std::string id;
  std::string cube;  // cube name
  std::vector<std::string> tasks;
  std::vector<std::string> axes;  // labels, table column order
  int64_t created_unix_ms = 0;
  std::string metrics_path;  // workspace-relative inside a run, may be empty
  std::vector<RunRecord> runs;

  // "runs/SWEEP/sweep.yaml" under `workspace`.
  static std::string PathFor(const std::string& workspace, const std::string& sweep_id);

  absl::Status Save(const std::string& path) const;
  static absl::StatusOr<SweepRecord> Load(const std::string& path);
  // Load of sweep `sweep_id` under `workspace`; INVALID_ARGUMENT ("sweep
  // 'X': expected a sweep id") for an id that is empty or not one name.
  static absl::StatusOr<SweepRecord> LoadById(const std::string& workspace,
                                              const std::string& sweep_id);

  // Every WORKSPACE/runs/*/sweep.yaml, oldest first; unreadable ones are
  // reported in `errors` (one line each) and skipped.
  static std::vector<SweepRecord> LoadAll(const std::string& workspace,
                                          std::vector<std::string>* errors);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SWEEPS_SWEEP_RECORD_H_
