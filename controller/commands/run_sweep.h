#ifndef MLCUBE_REMOTE_CONTROLLER_COMMANDS_RUN_SWEEP_H_
#define MLCUBE_REMOTE_CONTROLLER_COMMANDS_RUN_SWEEP_H_

// `mlcube-remote run ... --sweep=...`: the sweep options of `run` and what
// is prepared before the push (every refusal, then each run's input
// copies); controller/remote/remote_sweep runs it.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/cube.h"
#include "controller/remote/remote_sweep.h"
#include "controller/terminal/console.h"

namespace CLI {
class App;
}

namespace mlcube {

struct SweepOptions {
  std::vector<std::string> axes;  // --sweep, as written
  std::string sweep_file;
  int repeat = 1;
  int parallel = 1;
  std::string metrics;  // workspace-relative path the task writes
};

void AddSweepOptions(CLI::App* command, SweepOptions* options);

// With a sweep, what ${run.index}, ${run.repetition}, ${run.id} and
// ${run.sweep} resolve to while the cube is checked here (the first run's
// values; each run's job gets its own); nothing without one.
std::vector<std::string> SweepLoadOverrides(const SweepOptions& options);

// Nothing when no sweep option was given. Refuses (INVALID_ARGUMENT or
// NOT_FOUND, naming the axis or file) before anything moves; then writes
// each run's input copies under the cube's workspace so the push takes them.
absl::StatusOr<std::optional<PreparedSweep>> PrepareSweep(const SweepOptions& options,
                                                          const Cube& cube,
                                                          const std::vector<std::string>& tasks,
                                                          const Console& console);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_COMMANDS_RUN_SWEEP_H_
