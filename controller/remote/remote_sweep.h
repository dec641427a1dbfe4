#ifndef MLCUBE_REMOTE_CONTROLLER_REMOTE_REMOTE_SWEEP_H_
#define MLCUBE_REMOTE_CONTROLLER_REMOTE_REMOTE_SWEEP_H_

// The runs of a sweep on one agent, end to end: the cube (with every run's
// input copies) is pushed once, then each run is its own job built from the
// request plus the run's overrides, at most `parallel` at a time, followed
// by SweepRunner; each run's outputs are pulled into its own place as it
// ends. Returns the process exit status: 0 only when every run succeeded,
// else the first failed run's exit code (1 when it has none), 130 after
// Ctrl-C, 2 or 75 when nothing could start.

#include <vector>

#include "controller/remote/remote_run.h"
#include "controller/sweeps/run_inputs.h"
#include "controller/sweeps/sweep_record.h"

namespace mlcube {

struct PreparedSweep {
  SweepRecord record;
  std::vector<RunPlan> plans;  // plans[i] for record.runs[i]
  int parallel = 1;
};

int RunRemoteSweep(AgentConnection& agent, RemoteRunRequest request, PreparedSweep* sweep,
                   InterruptMonitor& interrupts, const Console& console);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_REMOTE_REMOTE_SWEEP_H_
