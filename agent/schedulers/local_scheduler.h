#ifndef MLCUBE_REMOTE_AGENT_SCHEDULERS_LOCAL_SCHEDULER_H_
#define MLCUBE_REMOTE_AGENT_SCHEDULERS_LOCAL_SCHEDULER_H_

#include <string>
#include <vector>

#include "agent/schedulers/step_scheduler.h"
#include "agent/schedulers/task_supervisor.h"

namespace mlcube {

// Runs steps on this machine under a TaskSupervisor.
class LocalScheduler final : public StepScheduler {
 public:
  // `self_exe` is the mlcube-agent binary: its sibling
  // mlcube-agent-supervisor supervises steps, else `self_exe supervise`.
  explicit LocalScheduler(const std::string& self_exe)
      : supervisor_(TaskSupervisor::ProgramBeside(self_exe)) {}

  absl::Status Launch(const SupervisedCommand& command) override;
  bool Launched(const std::string& step_prefix) override;
  bool NeverStarted(const std::string& step_prefix) override;
  bool Running(const std::string& step_prefix) override;
  absl::StatusOr<ExitStatus> ReadExit(const std::string& step_prefix) override;
  // SIGTERM (SIGKILL when forced) to the step's process group.
  void Stop(const std::string& step_prefix, bool force) override;

 private:
  std::vector<std::string> supervisor_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SCHEDULERS_LOCAL_SCHEDULER_H_
