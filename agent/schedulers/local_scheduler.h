#ifndef MLCUBE_REMOTE_AGENT_SCHEDULERS_LOCAL_SCHEDULER_H_
#define MLCUBE_REMOTE_AGENT_SCHEDULERS_LOCAL_SCHEDULER_H_

#include <string>
#include <utility>

#include "agent/schedulers/step_scheduler.h"

namespace mlcube {

// Runs steps on this machine under a TaskSupervisor.
class LocalScheduler final : public StepScheduler {
 public:
  // `self_exe` is the mlcube-agent binary (runs `supervise`).
  explicit LocalScheduler(std::string self_exe) : self_exe_(std::move(self_exe)) {}

  absl::Status Launch(const SupervisedCommand& command) override;
  bool Launched(const std::string& step_prefix) override;
  bool NeverStarted(const std::string& step_prefix) override;
  bool Running(const std::string& step_prefix) override;
  absl::StatusOr<ExitStatus> ReadExit(const std::string& step_prefix) override;
  // SIGTERM (SIGKILL when forced) to the step's process group.
  void Stop(const std::string& step_prefix, bool force) override;

 private:
  std::string self_exe_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SCHEDULERS_LOCAL_SCHEDULER_H_
