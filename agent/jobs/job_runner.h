#ifndef MLCUBE_REMOTE_AGENT_JOBS_JOB_RUNNER_H_
#define MLCUBE_REMOTE_AGENT_JOBS_JOB_RUNNER_H_

// Executes one job's steps (configure?, task, task...) on a thread of the
// job manager. The plan is written to the job's directory when the job
// first starts, so a restarted agent continues the same sequence: a step the
// scheduler already launched is waited for, never launched twice. Each step
// is a runtime's command line (ContainerRuntime) run by a StepScheduler.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/access/task_user_resolver.h"
#include "agent/config/agent_config.h"
#include "agent/runtimes/container_runtime.h"
#include "agent/schedulers/step_scheduler.h"
#include "agent/state/state_layout.h"
#include "common/cube.h"
#include "mlcube_remote/v1/jobs.pb.h"

namespace mlcube {

// How a job ended. UNSPECIFIED: it did not end, the agent is stopping.
struct JobOutcome {
  mlcube_remote::v1::JobState state = mlcube_remote::v1::JOB_STATE_UNSPECIFIED;
  int exit_code = 0;
  std::string reason;
};

// What a runner reports to, and asks of, the job manager about its job.
class JobControl {
 public:
  virtual ~JobControl() = default;
  virtual void SetState(mlcube_remote::v1::JobState state, int exit_code, const std::string& reason,
                        const std::string& current_task) = 0;
  virtual bool CancelRequested() = 0;
  // The agent is shutting down: stop waiting (the steps keep running).
  virtual bool Stopping() = 0;
  // Held while a step of the job's identity is checked and started with
  // the identity's other containers frozen: one such start at a time.
  virtual absl::Mutex* StepStartMutex() = 0;
};

// The CANCELLED outcome, naming who cancelled (from the job's cancel file).
JobOutcome CancelledOutcome(const StateLayout& layout, const std::string& job_id, int exit_code);

class JobRunner {
 public:
  // Everything but `cube` and `runtime` is borrowed and outlives the runner.
  JobRunner(const AgentConfig& config, const StateLayout& layout, StepScheduler* scheduler,
            JobControl* control, mlcube_remote::v1::Job job,
            mlcube_remote::v1::SubmitJobRequest request, Cube cube,
            std::unique_ptr<ContainerRuntime> runtime, TaskUser user);

  JobOutcome Run();

 private:
  absl::StatusOr<StepContext> BaseContext() const;
  // RepairTaskFiles with the identity's other containers frozen, as a task
  // step is started (ContainerRuntime::FreezeTasksOf).
  absl::Status RepairWithTasksFrozen(const std::string& task, const StepContext& context);
  // The job's plan: read back after a restart, else decided and recorded.
  absl::StatusOr<std::vector<std::string>> Plan(const StepContext& context);
  // Runs (or re-attaches to) step `index`; an outcome when the job ends there.
  std::optional<JobOutcome> RunStep(size_t index, const std::string& step, StepContext* context);
  // Launches a step that was never started; an outcome when it cannot be.
  std::optional<JobOutcome> LaunchStep(bool configure, const std::string& task,
                                       const StepContext& context, std::string* container_name);
  absl::StatusOr<StepCommand> TaskCommand(const std::string& task, const StepContext& context);
  // How a finished step's exit status ends the job (nullopt: go on).
  std::optional<JobOutcome> AfterStep(bool configure, const std::string& task,
                                      const std::string& prefix, const std::string& container_name,
                                      const StepContext& context);
  // Waits for a launched step to end, stopping it when a cancel comes.
  // False when the agent is stopping.
  bool WaitForStep(const std::string& prefix, const std::string& container_name);
  JobOutcome Failed(int exit_code, std::string reason) const;
  void AgentLog(const std::string& text) const;

  const AgentConfig& config_;
  const StateLayout& layout_;
  const TaskUser user_;
  StepScheduler* scheduler_;
  JobControl* control_;
  const mlcube_remote::v1::Job job_;
  const mlcube_remote::v1::SubmitJobRequest request_;
  const Cube cube_;
  const std::unique_ptr<ContainerRuntime> runtime_;
  int last_exit_ = 0;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_JOBS_JOB_RUNNER_H_
