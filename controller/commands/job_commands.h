#ifndef MLCUBE_REMOTE_CONTROLLER_COMMANDS_JOB_COMMANDS_H_
#define MLCUBE_REMOTE_CONTROLLER_COMMANDS_JOB_COMMANDS_H_

// The commands that look after jobs already submitted: status, logs, cancel
// and jobs. Each returns the process exit status. A run of a sweep can be
// named SWEEP/RUN instead of by host and job id.

#include <ostream>
#include <string>

#include "controller/terminal/console.h"

namespace mlcube {

struct JobCommandOptions {
  std::string hosts_path;  // --hosts
  std::string host;        // --host; empty = default host
  // A job id, or SWEEP/RUN (status, logs, cancel): the run's host and job
  // come from the sweep's record in the workspace of the cube at `mlcube`.
  std::string job_id;
  std::string mlcube = ".";
  bool follow = false;  // logs -f
  bool all = false;     // jobs --all
};

int RunStatusCommand(const JobCommandOptions& options, const Console& console, std::ostream& out);
int RunLogsCommand(const JobCommandOptions& options, const Console& console);
int RunCancelCommand(const JobCommandOptions& options, const Console& console, std::ostream& out);
int RunJobsCommand(const JobCommandOptions& options, const Console& console, std::ostream& out);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_COMMANDS_JOB_COMMANDS_H_
