#ifndef MLCUBE_REMOTE_CONTROLLER_GANG_GANG_FOLLOWER_H_
#define MLCUBE_REMOTE_CONTROLLER_GANG_GANG_FOLLOWER_H_

// Following the ranks of a job across hosts as one job: every rank's
// output, each line as "[rank N] line" on the stream it was printed on
// (only the ranks in `ranks` when given), each rank followed with the
// re-attach guarantees of one job (JobWatcher). Following: all ranks at
// once, live, until every rank ended; the first rank to fail or be
// cancelled cancels the others (the job fails when any rank fails).
// Not following: each rank's output so far, rank after rank.

#include <set>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/gang/gang_launcher.h"
#include "controller/terminal/console.h"
#include "controller/terminal/interrupt_monitor.h"
#include "mlcube_remote/v1/jobs.pb.h"

namespace mlcube {

struct GangOutcome {
  std::vector<mlcube_remote::v1::Job> jobs;  // each rank's job as the watch left it
  bool interrupted = false;                  // Ctrl-C: the ranks go on
  int failed_rank = -1;                      // the first rank seen to fail or be cancelled
};

// `interrupts` may be null.
absl::StatusOr<GangOutcome> FollowGang(const std::vector<GangMember>& members,
                                       const std::set<int>& ranks, bool follow,
                                       InterruptMonitor* interrupts, const Console& console);

// The job's exit status: 0 when every rank succeeded, else the failed
// rank's (ExitStatusForJob).
int GangExitStatus(const GangOutcome& outcome);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_GANG_GANG_FOLLOWER_H_
