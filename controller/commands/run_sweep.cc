#include "controller/commands/run_sweep.h"

#include <CLI/CLI.hpp>
#include <ctime>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/safe_path.h"
#include "controller/sweeps/run_inputs.h"
#include "controller/sweeps/sweep_spec.h"

namespace mlcube {
namespace {

// "20261125-163200-3fa9": sorts by time, unique enough for one workspace.
std::string NewSweepId() {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  ::localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &local);
  std::random_device device;
  return absl::StrFormat("%s-%04x", stamp, device() & 0xffff);
}

// --metrics names a file the task writes: it must lie inside one of the
// outputs (in the workspace) of the tasks run, which every run gets its own
// copy of; the agent checks the same again at submit.
absl::Status CheckMetricsPath(const std::string& path, const RunInputs& inputs,
                              const std::vector<std::string>& tasks) {
  if (path.empty()) return absl::OkStatus();
  if (!ValidateRelativePath(path).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics=", path, ": expected a workspace-relative path inside one of the outputs"));
  }
  const std::vector<std::string> outputs = inputs.WorkspaceOutputs();
  for (const std::string& output : outputs) {
    if (IsWithin(path, output)) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--metrics=", path, ": not inside an output of ", absl::StrJoin(tasks, ","),
      outputs.empty() ? " (no output in the workspace)"
                      : absl::StrCat(" (outputs: ", absl::StrJoin(outputs, ", "), ")")));
}

}  // namespace

void AddSweepOptions(CLI::App* command, SweepOptions* options) {
  command
      ->add_option("--sweep", options->axes,
                   "Sweep axis: PARAM:key.path=v1,v2 (a key in the YAML/JSON file of input "
                   "PARAM) or -P:key.path=v1,v2; several axes form a grid")
      ->take_all();
  command->add_option("--sweep-file", options->sweep_file,
                      "YAML list of explicit points, {\"PARAM:key.path\": value, ...}");
  command->add_option("--repeat", options->repeat, "Run each point N times (${run.index})");
  command
      ->add_option("--parallel", options->parallel, "Runs at a time, over every host (default 1)")
      ->check(CLI::Range(1, 1000));
  command->add_option("--metrics", options->metrics,
                      "Metrics file the task writes (workspace-relative; YAML/JSON or .jsonl)");
}

std::vector<std::string> SweepLoadOverrides(const SweepOptions& options) {
  if (options.axes.empty() && options.sweep_file.empty() && options.repeat == 1) return {};
  return {"run.index=0", "run.repetition=0", "run.id=r000", "run.sweep=checking"};
}

absl::StatusOr<std::optional<PreparedSweep>> PrepareSweep(const SweepOptions& options,
                                                          const Cube& cube,
                                                          const std::vector<std::string>& tasks,
                                                          const Console& console) {
  absl::StatusOr<SweepSpec> spec =
      SweepSpec::Parse(options.axes, options.sweep_file, options.repeat);
  if (!spec.ok()) return spec.status();
  if (spec->empty()) {
    if (!options.metrics.empty()) {
      return absl::InvalidArgumentError(
          "--metrics needs a sweep (--sweep, --sweep-file or "
          "--repeat)");
    }
    return std::nullopt;
  }
  if (absl::Status valid = spec->Validate(cube, tasks); !valid.ok()) return valid;
  PreparedSweep sweep;
  sweep.parallel = options.parallel;
  SweepRecord& record = sweep.record;
  record.id = NewSweepId();
  record.cube = cube.name;
  record.tasks = tasks;
  record.axes = spec->Labels();
  record.created_unix_ms = NowUnixMs();
  record.metrics_path = options.metrics;
  RunInputs inputs(&cube, tasks, record.id);
  if (absl::Status metrics = CheckMetricsPath(options.metrics, inputs, tasks); !metrics.ok()) {
    return metrics;
  }
  for (const SweepRunSpec& run : spec->Runs()) {
    absl::StatusOr<RunPlan> plan = inputs.Prepare(run);
    if (!plan.ok()) return plan.status();
    if (run.index == 0) {
      for (const std::string& shared : plan->shared_outputs) {
        console.Warning(absl::StrCat(
            "output ", shared, " is outside the workspace: every run of the sweep writes it"));
      }
    }
    RunRecord entry;
    entry.id = run.id;
    entry.index = run.index;
    entry.repetition = run.repetition;
    for (const auto& [target, value] : run.values) entry.values.emplace_back(target.Label(), value);
    entry.run_dir = plan->run_dir;
    record.runs.push_back(std::move(entry));
    sweep.plans.push_back(std::move(*plan));
  }
  return sweep;
}

}  // namespace mlcube
