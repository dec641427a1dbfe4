#ifndef MLCUBE_REMOTE_CONTROLLER_COMMANDS_RUN_SWEEP_H_
#define MLCUBE_REMOTE_CONTROLLER_COMMANDS_RUN_SWEEP_H_

// `mlcube-remote run ... --sweep=...`: the sweep options of `run`, what is
// prepared before the push (every refusal, then each run's input copies),
// and the runs on one agent after it.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/cube.h"
#include "controller/sweeps/run_inputs.h"
#include "controller/sweeps/sweep_record.h"
#include "controller/sync/sync_client.h"
#include "controller/terminal/console.h"
#include "controller/terminal/interrupt_monitor.h"
#include "controller/transport/agent_connection.h"
#include "mlcube_remote/v1/jobs.pb.h"

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

struct PreparedSweep {
  SweepRecord record;
  std::vector<RunPlan> plans;  // plans[i] for record.runs[i]
};

// Nothing when no sweep option was given. Refuses (INVALID_ARGUMENT or
// NOT_FOUND, naming the axis or file) before anything moves; then writes
// each run's input copies under the cube's workspace so the push takes them.
absl::StatusOr<std::optional<PreparedSweep>> PrepareSweep(const SweepOptions& options,
                                                          const Cube& cube,
                                                          const std::vector<std::string>& tasks,
                                                          const Console& console);

struct SweepContext {
  const Cube* cube = nullptr;
  std::string cube_id;
  std::string host;
  AgentConnection* agent = nullptr;
  SyncClient* sync = nullptr;
  InterruptMonitor* interrupts = nullptr;
  bool detach = false;
  bool no_pull = false;
  int parallel = 1;
  // Submits one request (with the command's retries).
  std::function<absl::StatusOr<mlcube_remote::v1::Job>(const mlcube_remote::v1::SubmitJobRequest&)>
      submit;
};

// Runs every run of `sweep` as its own job built from `base` plus the run's
// overrides; returns the command's exit code: 0 only when every run
// succeeded, else the first failed run's exit code (1 when it has none).
int RunSweep(PreparedSweep* sweep, const mlcube_remote::v1::SubmitJobRequest& base,
             const SweepContext& context, const Console& console);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_COMMANDS_RUN_SWEEP_H_
