#ifndef MLCUBE_REMOTE_CONTROLLER_REMOTE_REMOTE_SWEEP_H_
#define MLCUBE_REMOTE_CONTROLLER_REMOTE_REMOTE_SWEEP_H_

// The runs of a sweep on one agent or several, end to end: the cube (with
// every run's input copies) is pushed once to each host, then each run is
// its own job built from its host's request plus the run's overrides, at
// most `parallel` at a time, followed by SweepRunner; each run's outputs
// are pulled from its host into its own place as it ends. Returns the
// process exit status: 0 only when every run succeeded, else the first
// failed run's exit code (1 when it has none, as for a LOST run), 130
// after Ctrl-C, 2 or 75 when nothing could start.
//
// Several hosts: a host that cannot be reached, has no GPUs for a task
// that asks for them, or fails its push is left out with a warning (the
// sweep needs one); each host takes runs up to its capacity
// (HostDispatcher::Capacity from its agent's GPUs, per-caller job limit and
// the caller's unfinished jobs there) and only while its runs have
// started; see SweepRunner for hosts that drop out.

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

// One host of a sweep: its agent (not owned) and the request built for it
// (its cube loaded with the host's defaults, its runtime, env, Slurm
// settings, host_name).
struct SweepHost {
  AgentConnection* agent = nullptr;
  RemoteRunRequest request;
};

int RunRemoteSweep(std::vector<SweepHost> hosts, PreparedSweep* sweep, InterruptMonitor& interrupts,
                   const Console& console);

// One host: as above with a single lane (runs queue on the agent up to
// `parallel`).
int RunRemoteSweep(AgentConnection& agent, RemoteRunRequest request, PreparedSweep* sweep,
                   InterruptMonitor& interrupts, const Console& console);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_REMOTE_REMOTE_SWEEP_H_
