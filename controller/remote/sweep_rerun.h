#ifndef MLCUBE_REMOTE_CONTROLLER_REMOTE_SWEEP_RERUN_H_
#define MLCUBE_REMOTE_CONTROLLER_REMOTE_SWEEP_RERUN_H_

// Runs a sweep's failed and cancelled runs again, each on its host, as the
// job it was (RerunJob: same values, same run directory, same metrics
// file). The record's unfinished runs are brought up to date first; while
// any run is unfinished nothing is re-run (a `run --sweep` may still be
// writing the record). Each re-run run gets its new job (QUEUED, times,
// exit code, reason and metrics cleared) and the record is saved once.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/transport/agent_connection.h"

namespace mlcube {

using AgentForHost =
    std::function<absl::StatusOr<std::shared_ptr<AgentConnection>>(const std::string& host)>;

struct SweepRerunOutcome {
  std::vector<std::string> rerun;  // "r003 -> job 1a2b3c4d"
  // Runs that could not be re-run, one line each (the others still were).
  std::vector<std::string> errors;
};

// INVALID_ARGUMENT for a malformed sweep id, NOT_FOUND for no such sweep,
// FAILED_PRECONDITION while runs are unfinished or when none failed.
absl::StatusOr<SweepRerunOutcome> RerunFailedRuns(const std::string& workspace,
                                                  const std::string& sweep_id,
                                                  const AgentForHost& agent_for);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_REMOTE_SWEEP_RERUN_H_
