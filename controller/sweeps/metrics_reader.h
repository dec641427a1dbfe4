#ifndef MLCUBE_REMOTE_CONTROLLER_SWEEPS_METRICS_READER_H_
#define MLCUBE_REMOTE_CONTROLLER_SWEEPS_METRICS_READER_H_

// A run's metrics file, written by the task under one of its outputs:
//  - YAML or JSON (the shape MedPerf's metrics cubes write): every scalar
//    leaf is one metric, nested keys joined with dots ("dice.mean"), list
//    items by position ("scores.0");
//  - JSON lines (.jsonl / .ndjson): one step per line, {"step": 10,
//    "loss": 0.31}, for curves; its latest values are the last step's.
// The file is the task's output and hostile: a symlink or anything but a
// regular file is refused unread; bad content is one
// INVALID_ARGUMENT line naming the file (and line); a half-written last
// line of a JSON-lines file (the task is still writing) is ignored.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mlcube {

// One step of a curve: metric -> value, numeric leaves only.
using MetricsStep = std::map<std::string, double>;

class MetricsReader {
 public:
  // Files above this are refused rather than read into memory.
  static constexpr size_t kMaxBytes = 64u << 20;

  static bool IsJsonLines(const std::string& path);

  // The latest scalar values, "dotted.key" -> value as written.
  static absl::StatusOr<std::map<std::string, std::string>> ReadLatest(const std::string& path);

  // ReadLatest of `text`, the content (or the agent's tail) of the file
  // `path`, which decides the format and is named in errors.
  static absl::StatusOr<std::map<std::string, std::string>> ParseLatest(const std::string& text,
                                                                        const std::string& path);

  // Every step of a JSON-lines file; a YAML/JSON file is one step.
  static absl::StatusOr<std::vector<MetricsStep>> ReadCurve(const std::string& path);

  // ReadCurve of `text` (a file's content or the agent's tail of it);
  // `path` decides the format and is named in errors.
  static absl::StatusOr<std::vector<MetricsStep>> ParseCurve(const std::string& text,
                                                             const std::string& path);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SWEEPS_METRICS_READER_H_
