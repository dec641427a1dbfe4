#include "agent/jobs/job_runner.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "agent/job_log/job_log.h"
#include "agent/jobs/task_step.h"
#include "agent/log/log.h"
#include "common/beneath_dir.h"
#include "common/file_util.h"
#include "common/mount_planner.h"
#include "common/safe_path.h"

namespace mlcube {

using mlcube_remote::v1::Job;
using mlcube_remote::v1::SubmitJobRequest;

namespace {

constexpr char kConfigureStep[] = "configure";
constexpr char kTaskStepPrefix[] = "task:";

// Control characters (a file name with a newline or a terminal escape)
// appear escaped, so a cube cannot forge or hide lines of the job log.
std::string ShellQuoteForLog(const std::vector<std::string>& argv) {
  std::vector<std::string> words;
  for (const std::string& raw : argv) {
    const std::string a = PrintableExcerpt(raw, raw.size());
    if (a.find_first_of(" \t\"'$\\") == std::string::npos && !a.empty()) {
      words.push_back(a);
    } else {
      words.push_back(absl::StrCat("'", absl::StrJoin(absl::StrSplit(a, '\''), "'\\''"), "'"));
    }
  }
  return absl::StrJoin(words, " ");
}

}  // namespace

JobOutcome CancelledOutcome(const StateLayout& layout, const std::string& job_id, int exit_code) {
  auto who = ReadSmallFile(layout.JobCancelFile(job_id));
  std::string by = who.ok() ? std::string(absl::StripAsciiWhitespace(*who)) : "";
  return JobOutcome{mlcube_remote::v1::JOB_STATE_CANCELLED, exit_code,
                    by.empty() ? "cancelled" : absl::StrCat("cancelled by ", by)};
}

JobRunner::JobRunner(const AgentConfig& config, const StateLayout& layout, StepScheduler* scheduler,
                     JobControl* control, Job job, SubmitJobRequest request, Cube cube,
                     std::unique_ptr<ContainerRuntime> runtime, TaskUser user)
    : config_(config),
      layout_(layout),
      user_(user),
      scheduler_(scheduler),
      control_(control),
      job_(std::move(job)),
      request_(std::move(request)),
      cube_(std::move(cube)),
      runtime_(std::move(runtime)) {}

JobOutcome JobRunner::Failed(int exit_code, std::string reason) const {
  return JobOutcome{mlcube_remote::v1::JOB_STATE_FAILED, exit_code, std::move(reason)};
}

void JobRunner::AgentLog(const std::string& text) const {
  auto log = JobLog::OpenForAppend(layout_.JobLogFile(job_.id()), config_.limits.job_log_bytes);
  LogIfError(absl::StrCat("job ", job_.id(), ": writing its log"),
             log.ok() ? log->Append(JobLog::RecordType::kAgent, text) : log.status());
}

JobOutcome JobRunner::Run() {
  absl::StatusOr<StepContext> context = BaseContext();
  if (!context.ok()) return Failed(0, std::string(context.status().message()));
  absl::StatusOr<std::vector<std::string>> plan = Plan(*context);
  if (!plan.ok()) return Failed(0, std::string(plan.status().message()));
  for (size_t i = 0; i < plan->size(); ++i) {
    if (control_->CancelRequested()) return CancelledOutcome(layout_, job_.id(), last_exit_);
    std::optional<JobOutcome> ended = RunStep(i, (*plan)[i], &*context);
    if (ended.has_value()) return *ended;
  }
  return JobOutcome{mlcube_remote::v1::JOB_STATE_SUCCEEDED, 0, ""};
}

absl::StatusOr<StepContext> JobRunner::BaseContext() const {
  StepContext context = JobStepContext(layout_, job_.id(), job_.owner(), request_, config_, user_);
  GiveGpus(AllocatedDevices(job_), &context);
  if (absl::Status s = MakeDirs(context.image_dir); !s.ok()) return s;
  return context;
}

absl::StatusOr<std::vector<std::string>> JobRunner::Plan(const StepContext& context) {
  const std::string plan_file = layout_.JobPlanFile(job_.id());
  if (auto text = ReadSmallFile(plan_file); text.ok()) {
    return std::vector<std::string>(absl::StrSplit(*text, '\n', absl::SkipEmpty()));
  }
  std::vector<std::string> plan;
  if (request_.action() == mlcube_remote::v1::JOB_ACTION_CONFIGURE) {
    plan.push_back(kConfigureStep);
  } else {
    control_->SetState(mlcube_remote::v1::JOB_STATE_PREPARING, 0, "", "");
    if (runtime_->NeedsConfigure(cube_, context)) plan.push_back(kConfigureStep);
    for (const std::string& task : request_.tasks()) plan.push_back(kTaskStepPrefix + task);
  }
  if (absl::Status s = WriteFileAtomically(plan_file, absl::StrJoin(plan, "\n") + "\n"); !s.ok()) {
    return s;
  }
  return plan;
}

std::optional<JobOutcome> JobRunner::RunStep(size_t index, const std::string& step,
                                             StepContext* context) {
  const bool configure = step == kConfigureStep;
  const std::string task = configure ? "" : step.substr(strlen(kTaskStepPrefix));
  const std::string prefix = layout_.JobStepPrefix(job_.id(), static_cast<int>(index));
  context->step = static_cast<int>(index);
  context->step_prefix = prefix;
  std::string container_name;
  if (!scheduler_->Launched(prefix) || scheduler_->NeverStarted(prefix)) {
    std::optional<JobOutcome> refused = LaunchStep(configure, task, *context, &container_name);
    if (refused.has_value()) return refused;
  } else if (!configure) {
    // Re-attaching after a restart.
    container_name = ContainerName(job_.id(), static_cast<int>(index));
    control_->SetState(mlcube_remote::v1::JOB_STATE_RUNNING, 0, "", task);
  } else {
    control_->SetState(mlcube_remote::v1::JOB_STATE_PREPARING, 0, "", "");
  }
  if (!WaitForStep(prefix, container_name)) return JobOutcome{};  // the agent is stopping
  return AfterStep(configure, task, prefix, container_name, *context);
}

std::optional<JobOutcome> JobRunner::LaunchStep(bool configure, const std::string& task,
                                                const StepContext& context,
                                                std::string* container_name) {
  // A task of a uid other than the agent's is checked and started while the
  // identity's other containers are frozen, so none of its tasks can swap a
  // checked mount source before the runtime mounts it.
  std::optional<absl::MutexLock> start_lock;
  std::unique_ptr<FrozenTasks> frozen;
  if (!configure && context.uid != context.agent_uid) {
    start_lock.emplace(control_->StepStartMutex());
    frozen = runtime_->FreezeTasksOf(job_.owner());
  }
  control_->SetState(
      configure ? mlcube_remote::v1::JOB_STATE_PREPARING : mlcube_remote::v1::JOB_STATE_RUNNING, 0,
      "", task);
  absl::StatusOr<StepCommand> command;
  if (configure) {
    std::string notes;
    command = runtime_->ConfigureCommand(cube_, context, &notes);
    if (!notes.empty()) AgentLog(notes);
    if (!command.ok()) {
      return Failed(0, absl::StrCat("cannot configure: ", command.status().message()));
    }
  } else {
    command = TaskCommand(task, context);
    if (!command.ok()) return Failed(0, std::string(command.status().message()));
  }
  *container_name = command->container_name;
  AgentLog(absl::StrCat("mlcube-agent: ", configure ? "configure" : "task " + task, ": ",
                        ShellQuoteForLog(command->argv), "\n"));
  for (const std::string& note : command->notes)
    AgentLog(absl::StrCat("mlcube-agent: ", note, "\n"));
  if (!command->shown_env.empty()) {
    AgentLog(absl::StrCat("mlcube-agent: task ", task, ": environment copied from the caller: ",
                          ShellQuoteForLog(command->shown_env), "\n"));
  }
  SupervisedCommand supervised;
  supervised.argv = command->argv;
  supervised.env = command->env;
  supervised.cwd = command->cwd;
  supervised.log_path = layout_.JobLogFile(job_.id());
  supervised.log_max_bytes = config_.limits.job_log_bytes;
  supervised.step_prefix = context.step_prefix;
  supervised.configure = configure;
  supervised.engine_socket = command->engine_socket;
  absl::Status launched = scheduler_->Launch(supervised);
  if (!launched.ok()) {
    // A launch that waits (a batch's job array) ends early on a cancel or
    // when the agent stops: neither is a failure of the job.
    if (control_->CancelRequested()) return CancelledOutcome(layout_, job_.id(), 0);
    if (control_->Stopping()) return JobOutcome{};
    return Failed(0, std::string(launched.message()));
  }
  if (frozen != nullptr &&
      !runtime_->WaitUntilStarted(*container_name, absl::Minutes(2), [this, &context] {
        return !scheduler_->Running(context.step_prefix);
      })) {
    runtime_->StopContainer(*container_name);
    return Failed(0, absl::StrCat("task ", task, ": its container did not start in 2 minutes"));
  }
  return std::nullopt;
}

absl::Status JobRunner::RepairWithTasksFrozen(const std::string& task, const StepContext& context) {
  if (context.uid == context.agent_uid) return absl::OkStatus();
  absl::MutexLock start_lock(control_->StepStartMutex());
  std::unique_ptr<FrozenTasks> frozen = runtime_->FreezeTasksOf(job_.owner());
  return RepairTaskFiles(cube_, task, *runtime_, context);
}

absl::StatusOr<StepCommand> JobRunner::TaskCommand(const std::string& task,
                                                   const StepContext& context) {
  // Decided now, not at submit: an earlier task may have made its paths.
  absl::StatusOr<PlannedTaskStep> prepared = PrepareTaskStep(cube_, task, *runtime_, context);
  if (!prepared.ok()) return prepared.status();
  return std::move(prepared->command);
}

std::optional<JobOutcome> JobRunner::AfterStep(bool configure, const std::string& task,
                                               const std::string& prefix,
                                               const std::string& container_name,
                                               const StepContext& context) {
  auto exit = scheduler_->ReadExit(prefix);
  if (control_->CancelRequested()) {
    return CancelledOutcome(layout_, job_.id(), exit.ok() ? exit->ShellCode() : 0);
  }
  // Ended by the scheduler rather than by its command (a time limit...).
  if (std::string why = scheduler_->EndReason(prefix); !why.empty()) {
    if (configure) runtime_->AbandonConfigure(cube_, context);
    return Failed(exit.ok() ? exit->ShellCode() : 0,
                  absl::StrCat(configure ? "configure" : "task " + task, ": ", why));
  }
  if (!exit.ok()) {
    // The supervisor was killed (or the host rebooted): a container it
    // started may still run, with nobody recording its output.
    if (!container_name.empty()) runtime_->StopContainer(container_name);
    return Failed(0, absl::StrCat(configure ? "image build" : "task " + task,
                                  ": its supervisor died without recording an exit status"));
  }
  last_exit_ = exit->ShellCode();
  if (!configure) {
    // Its container mounts the task's paths as well: started like a task.
    absl::Status repaired = RepairWithTasksFrozen(task, context);
    if (!repaired.ok()) {
      AgentLog(
          absl::StrCat("mlcube-agent: task ", task,
                       ": files it made unreadable to the agent stay so (they will not pull): ",
                       repaired.message(), "\n"));
    }
  }
  if (configure) {
    if (last_exit_ != 0) {
      runtime_->AbandonConfigure(cube_, context);
      return Failed(last_exit_, absl::StrCat("configure (image build/pull with ", runtime_->name(),
                                             ") failed with exit code ", last_exit_,
                                             "; its output is in the job log"));
    }
    absl::Status finished = runtime_->FinishConfigure(cube_, context);
    if (!finished.ok()) return Failed(0, std::string(finished.message()));
  } else if (last_exit_ != 0) {
    return Failed(last_exit_, absl::StrCat("task ", task, " exited with code ", last_exit_));
  }
  return std::nullopt;
}

bool JobRunner::WaitForStep(const std::string& prefix, const std::string& container_name) {
  // On cancel: stop the container and ask the scheduler to stop the step
  // (Apptainer forwards SIGTERM to the task), then force what is left.
  absl::Time first_kill = absl::InfiniteFuture();
  absl::Time last_kill = absl::InfinitePast();
  while (scheduler_->Running(prefix)) {
    if (control_->Stopping()) return false;
    const absl::Time now = absl::Now();
    if (control_->CancelRequested() && now - last_kill > absl::Seconds(1)) {
      const bool first = last_kill == absl::InfinitePast();
      if (first) first_kill = now;
      last_kill = now;
      if (first && !container_name.empty()) runtime_->StopContainer(container_name);
      scheduler_->Stop(prefix, /*force=*/now - first_kill >= absl::Seconds(3));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

}  // namespace mlcube
