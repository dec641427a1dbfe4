#ifndef MLCUBE_REMOTE_CONTROLLER_GANG_GANG_LAUNCHER_H_
#define MLCUBE_REMOTE_CONTROLLER_GANG_GANG_LAUNCHER_H_

// Starting the ranks of a job across hosts: all or none. Each rank is an
// ordinary job on its host's agent; the gang holds only while every rank
// runs, so a rank that cannot start in time must not leave the others
// waiting at the rendezvous.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "controller/remote/remote_run.h"
#include "controller/terminal/console.h"
#include "controller/terminal/interrupt_monitor.h"
#include "controller/transport/agent_connection.h"

namespace mlcube {

// One rank: its host's agent (not owned), the request built for it (the
// cube pushed, its rank's variables in submit.env) and, once submitted, its
// job there.
struct GangMember {
  AgentConnection* agent = nullptr;
  RemoteRunRequest request;
  std::string job_id;
};

// Submits every rank in rank order (each member's job_id set). A rank
// refused cancels the ranks submitted before it; the error names the rank,
// its host and why.
absl::Status SubmitGang(std::vector<GangMember>& members, const Console& console);

// Waits until each rank has started (RUNNING, or already SUCCEEDED). A rank
// ending before the others started, or not started within `start_timeout`
// (its host busy: no GPU free, its queue full) cancels every rank; so does
// Ctrl-C. The error names the rank, its host and why (CANCELLED after
// Ctrl-C).
absl::Status WaitGangStarted(const std::vector<GangMember>& members, absl::Duration start_timeout,
                             InterruptMonitor& interrupts, const Console& console);

// Cancels every rank that has a job (failures are warnings); `except`
// (a rank, or -1) is left alone.
void CancelGang(const std::vector<GangMember>& members, int except, const Console& console);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_GANG_GANG_LAUNCHER_H_
