#ifndef MLCUBE_REMOTE_CONTROLLER_SWEEPS_SWEEP_SPEC_H_
#define MLCUBE_REMOTE_CONTROLLER_SWEEPS_SWEEP_SPEC_H_

// What a sweep varies, parsed from the command line before anything moves:
//   --sweep=PARAM:key.path=v1,v2   a key inside the YAML/JSON file that the
//                                  task's input parameter PARAM names
//   --sweep=-P:key.path=a,b        a configuration value (as -P would set it)
//   --sweep-file=grid.yaml         explicit points: a list of mappings
//                                  {"PARAM:key.path": value, ...} (or
//                                  {points: [...]})
//   --repeat=N                     every point N times
// The runs are the explicit points (or one empty point) x the cartesian
// product of the axes (first axis outermost) x the repetitions. Every error
// is INVALID_ARGUMENT with one line naming the axis or the file.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/cube.h"

namespace mlcube {

// Where an axis writes its value.
struct AxisTarget {
  // Empty for a configuration value (-P), else the file parameter's name.
  std::string parameter;
  std::string key_path;

  bool is_config() const { return parameter.empty(); }
  // "PARAM:key.path" or "-P:key.path": the axis's name everywhere.
  std::string Label() const;
  // Parses a label; fails naming `context` when malformed.
  static absl::StatusOr<AxisTarget> FromLabel(const std::string& label, const std::string& context);
};

struct SweepAxis {
  AxisTarget target;
  std::vector<std::string> values;
};

// One assignment of a run: the axis and its value.
using AxisValue = std::pair<AxisTarget, std::string>;

struct SweepRunSpec {
  int index = 0;       // 0 .. run_count-1, also ${run.index}
  int repetition = 0;  // 0 .. repeat-1
  std::string id;      // "r000": sorts in run order
  std::vector<AxisValue> values;
};

class SweepSpec {
 public:
  // Upper bound on the number of runs one sweep may expand to.
  static constexpr int kMaxRuns = 10000;

  // `axes` are the --sweep values as written; `sweep_file` may be empty;
  // `repeat` >= 1.
  static absl::StatusOr<SweepSpec> Parse(const std::vector<std::string>& axes,
                                         const std::string& sweep_file, int repeat);

  // Every file axis must name an input parameter of one of `tasks` whose
  // file ends in .yaml, .yml or .json and exists, so a typo is refused
  // before the push.
  absl::Status Validate(const Cube& cube, const std::vector<std::string>& tasks) const;

  // True when the command line asked for no sweep at all.
  bool empty() const { return axes_.empty() && points_.empty() && repeat_ == 1; }
  int repeat() const { return repeat_; }
  // Every distinct axis label, in first-seen order (table columns).
  std::vector<std::string> Labels() const;
  // Every target (axes and explicit points), each once.
  std::vector<AxisTarget> Targets() const;
  std::vector<SweepRunSpec> Runs() const;
  size_t RunCount() const;

 private:
  absl::Status AddAxis(const std::string& text);
  absl::Status LoadPoints(const std::string& sweep_file);

  std::vector<SweepAxis> axes_;
  std::vector<std::vector<AxisValue>> points_;
  int repeat_ = 1;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SWEEPS_SWEEP_SPEC_H_
