#ifndef MLCUBE_REMOTE_AGENT_SCHEDULERS_STEP_SCHEDULER_H_
#define MLCUBE_REMOTE_AGENT_SCHEDULERS_STEP_SCHEDULER_H_

// Where and when a job's step runs. A runtime turns a task into a command
// line; a scheduler runs that command detached from the agent so it
// outlives an agent restart, appends its output to the job log, and records
// how it ended under the step's file prefix (StateLayout::JobStepPrefix), so
// a restarted agent finds the step again by its prefix alone.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/schedulers/task_supervisor.h"
#include "agent/subprocess/subprocess.h"

namespace mlcube {

class StepScheduler {
 public:
  virtual ~StepScheduler() = default;

  // Starts the step; returns once it is recorded (Launched() is true).
  virtual absl::Status Launch(const SupervisedCommand& command) = 0;

  // True once Launch recorded the step, even if it never got further.
  virtual bool Launched(const std::string& step_prefix) = 0;

  // True when Launch was interrupted before anything of the step ran (the
  // agent died inside it): launching again is right.
  virtual bool NeverStarted(const std::string& step_prefix) = 0;

  // True while the step has not ended.
  virtual bool Running(const std::string& step_prefix) = 0;

  // How the step ended; NOT_FOUND while running or when nobody recorded it
  // (its supervisor was killed, the node died).
  virtual absl::StatusOr<ExitStatus> ReadExit(const std::string& step_prefix) = 0;

  // Why the step ended when the scheduler, not the step's command, ended it
  // (a time limit, a lost node); "" otherwise.
  virtual std::string EndReason(const std::string& step_prefix) { return ""; }

  // Asks the step to stop: `force` after a grace period.
  virtual void Stop(const std::string& step_prefix, bool force) = 0;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SCHEDULERS_STEP_SCHEDULER_H_
