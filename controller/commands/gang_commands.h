#ifndef MLCUBE_REMOTE_CONTROLLER_COMMANDS_GANG_COMMANDS_H_
#define MLCUBE_REMOTE_CONTROLLER_COMMANDS_GANG_COMMANDS_H_

// `status`, `logs [-f] [--ranks]` and `cancel` of a job across hosts
// (gang-XXXXXXXX, see run_gang.h): its record names each rank's host and
// job; each command acts on every rank.

#include <ostream>

#include "controller/commands/job_commands.h"
#include "controller/terminal/console.h"

namespace mlcube {

// The job's state (RUNNING while a rank runs; FAILED with the first failed
// rank's exit code; CANCELLED; SUCCEEDED when every rank did), then one
// line per rank.
int RunGangStatus(const JobCommandOptions& options, const Console& console, std::ostream& out);
// Every rank's output as "[rank N] line": rank after rank, or with -f all
// at once until every rank ended (exit status as `run`'s).
int RunGangLogs(const JobCommandOptions& options, const Console& console);
int RunGangCancel(const JobCommandOptions& options, const Console& console, std::ostream& out);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_COMMANDS_GANG_COMMANDS_H_
