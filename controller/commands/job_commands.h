#ifndef MLCUBE_REMOTE_CONTROLLER_COMMANDS_JOB_COMMANDS_H_
#define MLCUBE_REMOTE_CONTROLLER_COMMANDS_JOB_COMMANDS_H_

// The commands that look after jobs already submitted: status, logs, cancel
// and jobs. Each returns the process exit status.

#include <ostream>
#include <string>

#include "controller/commands/cube_options.h"
#include "controller/hosts/hosts_file.h"
#include "controller/terminal/console.h"

namespace mlcube {

struct JobCommandOptions {
  HostsLookup hosts_lookup;  // --hosts and the environment
  std::string host;          // --host; empty = default host
  // A job id, or SWEEP/RUN for status, logs and cancel: the run's host and
  // job from runs/SWEEP/sweep.yaml in the workspace of `cube`.
  std::string job_id;
  CubeOptions cube;
  bool follow = false;  // logs -f
  std::string ranks;    // logs --ranks=LIST (ParseRankList); empty: all
  bool all = false;     // jobs --all
};

int RunStatusCommand(const JobCommandOptions& options, const Console& console, std::ostream& out);
int RunLogsCommand(const JobCommandOptions& options, const Console& console);
int RunCancelCommand(const JobCommandOptions& options, const Console& console, std::ostream& out);
// A new job from the request of JOB (RerunJob); prints its id and state.
int RunRerunCommand(const JobCommandOptions& options, const Console& console, std::ostream& out);
int RunJobsCommand(const JobCommandOptions& options, const Console& console, std::ostream& out);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_COMMANDS_JOB_COMMANDS_H_
