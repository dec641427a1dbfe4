#ifndef MLCUBE_REMOTE_CONTROLLER_SWEEPS_RUN_INPUTS_H_
#define MLCUBE_REMOTE_CONTROLLER_SWEEPS_RUN_INPUTS_H_

// The inputs and output places of one run of a sweep, arranged so the cube's
// code needs no change:
//  - a swept file parameter gets its own copy, WORKSPACE/runs/SWEEP/RUN/FILE,
//    with the run's keys set (the rest of the file kept; comments are not),
//    and the parameter's default is overridden to point at it;
//  - every output parameter inside the workspace is overridden to
//    runs/SWEEP/RUN/<its usual workspace-relative path>, so runs never
//    overwrite each other;
//  - -P axes become overrides, and run.index, run.repetition, run.id and
//    run.sweep are set for ${...} interpolation (seeds).
// Everything else stays shared: the push sends identical files once.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/cube.h"
#include "controller/sweeps/sweep_spec.h"

namespace mlcube {

struct RunPlan {
  std::string run_dir;  // workspace-relative: runs/SWEEP/RUN
  // `key.path=value` assignments for the agent, after the user's own -P.
  std::vector<std::string> overrides;
  // Workspace-relative paths of this run's outputs (what to pull).
  std::vector<std::string> output_paths;
  // Outputs outside the workspace: shared by every run; worth a warning.
  std::vector<std::string> shared_outputs;
};

class RunInputs {
 public:
  // `cube` must outlive this object; `sweep_id` is one path component.
  RunInputs(const Cube* cube, std::vector<std::string> tasks, std::string sweep_id);

  // "runs/SWEEP/RUN", workspace-relative.
  static std::string RunDir(const std::string& sweep_id, const std::string& run_id);

  // The workspace-relative paths of the tasks' outputs inside the workspace
  // (what each run gets its own copy of), as the cube names them.
  std::vector<std::string> WorkspaceOutputs() const;

  // Writes the run's file copies (atomically) and returns its plan. Errors
  // name the swept file and key.
  absl::StatusOr<RunPlan> Prepare(const SweepRunSpec& run) const;

 private:
  // Key path in the cube configuration of a parameter's default value.
  std::string DefaultKey(const std::string& task, const std::string& direction,
                         const std::string& parameter) const;
  const Parameter* FindInput(const std::string& name) const;
  absl::Status WriteSweptFile(const Parameter& input, const std::vector<AxisValue>& values,
                              const std::string& destination) const;
  void AddOutputs(const std::string& run_dir, RunPlan* plan) const;

  const Cube* cube_;
  std::vector<std::string> tasks_;
  std::string sweep_id_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SWEEPS_RUN_INPUTS_H_
