#include "agent/schedulers/local_scheduler.h"

#include <signal.h>

namespace mlcube {

absl::Status LocalScheduler::Launch(const SupervisedCommand& command) {
  return TaskSupervisor::Launch(supervisor_, command);
}

bool LocalScheduler::Launched(const std::string& step_prefix) {
  return TaskSupervisor::Launched(step_prefix);
}

bool LocalScheduler::NeverStarted(const std::string& step_prefix) {
  // A lock file nobody holds, with neither a process group nor an exit
  // status recorded: the agent died inside Launch, before a supervisor
  // existed.
  return TaskSupervisor::Launched(step_prefix) && !TaskSupervisor::Running(step_prefix) &&
         !TaskSupervisor::ReadExit(step_prefix).ok() &&
         !TaskSupervisor::ReadProcessGroup(step_prefix).ok();
}

bool LocalScheduler::Running(const std::string& step_prefix) {
  return TaskSupervisor::Running(step_prefix);
}

absl::StatusOr<ExitStatus> LocalScheduler::ReadExit(const std::string& step_prefix) {
  return TaskSupervisor::ReadExit(step_prefix);
}

void LocalScheduler::Stop(const std::string& step_prefix, bool force) {
  auto pgid = TaskSupervisor::ReadProcessGroup(step_prefix);
  if (pgid.ok()) kill(-*pgid, force ? SIGKILL : SIGTERM);
}

}  // namespace mlcube
