#include "agent/jobs/job_manager.h"

#include <unistd.h>

#include <algorithm>
#include <set>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "agent/job_log/job_log.h"
#include "agent/jobs/task_step.h"
#include "agent/log/log.h"
#include "agent/runtimes/mount_spec.h"
#include "common/cube_loader.h"
#include "common/directory_tree.h"
#include "common/file_util.h"
#include "common/job_state_name.h"
#include "common/safe_path.h"
#include "common/slurm_settings.h"

namespace mlcube {

using mlcube_remote::v1::Job;
using mlcube_remote::v1::JobState;
using mlcube_remote::v1::SubmitJobRequest;

bool IsFinalState(JobState state) {
  return state == mlcube_remote::v1::JOB_STATE_SUCCEEDED ||
         state == mlcube_remote::v1::JOB_STATE_FAILED ||
         state == mlcube_remote::v1::JOB_STATE_CANCELLED;
}

JobManager::JobManager(const AgentConfig& config, const StateLayout& layout,
                       const RuntimeInventory& inventory, TaskUserResolver* task_users,
                       std::string self_exe)
    : config_(config),
      layout_(layout),
      inventory_(inventory),
      self_exe_(std::move(self_exe)),
      store_(&layout),
      local_scheduler_(self_exe_),
      slurm_scheduler_(SlurmClient()),
      admission_(config, layout, inventory, task_users, &slurm_scheduler_.client()),
      gpus_(inventory.gpus()),
      queue_({config.max_concurrent_jobs, config.limits.running_jobs}, &gpus_),
      arrays_(&slurm_scheduler_, &layout, config.limits.running_jobs) {}

JobManager::~JobManager() { Stop(absl::InfiniteDuration()); }

bool JobManager::Stop(absl::Duration grace) {
  absl::MutexLock lock(&mu_);
  // Set under mu_, so threads waiting on a condition of mu_ re-check it.
  stopping_ = true;  // job threads stop waiting for their steps and return
  return mu_.AwaitWithTimeout(
      absl::Condition(
          +[](JobManager* m) ABSL_NO_THREAD_SAFETY_ANALYSIS { return m->queue_.started() == 0; },
          this),
      grace);
}

void JobManager::Start(WorkspaceUseRecorder* workspaces) {
  workspaces_ = workspaces;
  StartGpuSampler();
  // Containers frozen while a step started stay frozen if the agent died
  // meanwhile (ContainerRuntime::FreezeTasksOf).
  for (auto runtime : {mlcube_remote::v1::RUNTIME_DOCKER, mlcube_remote::v1::RUNTIME_PODMAN}) {
    if (auto made = admission_.MakeRuntime(runtime); made.ok()) (*made)->ThawLeftFrozen();
  }
  std::vector<StoredJob> stored = store_.LoadAll();
  std::sort(stored.begin(), stored.end(), [](const StoredJob& a, const StoredJob& b) {
    return a.job.created_unix_ms() < b.job.created_unix_ms();
  });
  std::set<std::string> owners;
  for (const StoredJob& s : stored) owners.insert(s.job.owner());
  LoadStored(std::move(stored));
  for (const std::string& owner : owners) PruneFinished(owner);
}

void JobManager::LoadStored(std::vector<StoredJob> stored) {
  absl::MutexLock lock(&mu_);
  for (StoredJob& s : stored) {
    auto entry = std::make_shared<Entry>();
    entry->job = std::move(s.job);
    entry->request = std::move(s.request);
    const std::string& id = entry->job.id();
    entry->cancel_requested = access(layout_.JobCancelFile(id).c_str(), F_OK) == 0;
    jobs_[id] = entry;
    if (!entry->request.client_request_id().empty()) {
      request_ids_[entry->job.owner() + "\n" + entry->request.client_request_id()] = id;
    }
    const JobState state = entry->job.state();
    if (IsFinalState(state)) continue;
    QueuedJob ticket = TicketOf(*entry, RestoreGpusLocked(*entry));
    if (state == mlcube_remote::v1::JOB_STATE_QUEUED) {
      queue_.Push(std::move(ticket));
    } else if (SpawnJobThreadLocked(entry)) {
      // It was running when the agent stopped: re-attached to its step.
      queue_.TakeSlot(ticket);
    } else {
      queue_.Push(std::move(ticket));
    }
  }
  StartQueuedLocked();
}

void JobManager::StartGpuSampler() {
  if (inventory_.gpus().empty()) return;
  absl::StatusOr<std::string> nvidia_smi = FindInPath(config_.gpus.nvidia_smi);
  if (!nvidia_smi.ok()) return;
  const int total = static_cast<int>(inventory_.gpus().size());
  try {
    gpu_sampler_ = std::make_unique<GpuUsageSampler>(
        *nvidia_smi, absl::Seconds(config_.gpus.sample_seconds),
        [this, total] {
          absl::MutexLock lock(&mu_);
          return gpus_.free_count() < total;
        },
        [this](const std::vector<GpuSample>& samples) { RecordGpuUsage(samples); });
  } catch (const std::system_error& e) {
    LogWarning(absl::StrCat("GPU usage is not sampled: ", e.what()));
  }
}

void JobManager::RecordGpuUsage(const std::vector<GpuSample>& samples) {
  absl::MutexLock lock(&mu_);
  for (const GpuSample& sample : samples) {
    auto it = jobs_.find(gpus_.HolderOf(sample.index));
    if (it == jobs_.end()) continue;
    mlcube_remote::v1::GpuUsage* usage = it->second->job.mutable_gpu_usage();
    usage->set_samples(usage->samples() + 1);
    usage->set_utilization_percent_sum(usage->utilization_percent_sum() +
                                       sample.utilization_percent);
    usage->set_peak_utilization_percent(
        std::max(usage->peak_utilization_percent(), sample.utilization_percent));
    usage->set_peak_memory_used_mib(
        std::max(usage->peak_memory_used_mib(), sample.memory_used_mib));
  }
}
void JobManager::SetSchedulerInfo(const std::shared_ptr<Entry>& entry,
                                  const std::string& scheduler_job_id,
                                  const std::string& pending_reason) {
  Job copy;
  std::string previous_id, previous_reason;
  {
    absl::MutexLock lock(&mu_);
    previous_id = entry->job.scheduler_job_id();
    previous_reason = entry->job.pending_reason();
    entry->job.set_scheduler_job_id(scheduler_job_id);
    entry->job.set_pending_reason(pending_reason);
    copy = entry->job;
  }
  LogIfError(absl::StrCat("job ", copy.id()), store_.Save(copy));
  std::string text;
  if (scheduler_job_id != previous_id) {
    text = absl::StrCat("mlcube-agent: Slurm job ", scheduler_job_id, "\n");
  }
  // "PENDING" stands for Slurm's reason None: not looked at yet.
  if (!pending_reason.empty() && pending_reason != "PENDING" && pending_reason != previous_reason) {
    absl::StrAppend(&text, "mlcube-agent: Slurm job ", scheduler_job_id, " is pending (",
                    pending_reason, ")\n");
  }
  if (text.empty()) return;
  auto log = JobLog::OpenForAppend(store_.LogPath(copy.id()), config_.limits.job_log_bytes);
  LogIfError(absl::StrCat("job ", copy.id(), ": writing its log"),
             log.ok() ? log->Append(JobLog::RecordType::kAgent, text) : log.status());
}

namespace {

// How a Slurm job of the plan is submitted, and started when it has ranks.
absl::Status AddSlurmNotes(const SubmitJobRequest& request, mlcube_remote::v1::JobPlan* plan) {
  if (request.scheduler() != "slurm") return absl::OkStatus();
  auto settings = ParseSlurmSettings(
      std::map<std::string, std::string>(request.slurm().begin(), request.slurm().end()));
  if (!settings.ok()) return settings.status();
  auto options = SbatchResourceOptions(*settings, request.gpus());
  if (!options.ok()) return options.status();
  plan->add_notes(
      absl::StrCat("each task step is a Slurm batch job: sbatch ", absl::StrJoin(*options, " ")));
  if (settings->Ranks() > 1 || !settings->mpi.empty()) {
    plan->add_notes(absl::StrCat(
        "the task runs as ", settings->Ranks(), " ranks (",
        settings->nodes > 0 ? settings->nodes : 1, " node(s) x ", settings->TasksPerNode(),
        "): srun --kill-on-bad-exit=1 starts the command once per rank with RANK, LOCAL_RANK, "
        "WORLD_SIZE, LOCAL_WORLD_SIZE, NODE_RANK, MASTER_ADDR (the first node), MASTER_PORT and "
        "the SLURM_* variables",
        settings->mpi.empty() ? "" : absl::StrCat(", and srun --mpi=", settings->mpi, "'s PMI"),
        "; each line is printed as [rank N]"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<mlcube_remote::v1::JobPlan> JobManager::Plan(const std::string& owner,
                                                            const SubmitJobRequest& request) {
  auto runtime = admission_.MakeRuntime(request.runtime());
  if (!runtime.ok()) return runtime.status();
  auto cube = admission_.LoadJobCube(owner, request);
  if (!cube.ok()) return cube.status();
  mlcube_remote::v1::JobPlan plan;
  plan.set_cube_root(NormalizePath(layout_.CubeDir(owner, request.cube_id())));
  for (const std::string& warning : cube->warnings) plan.add_warnings(warning);
  const std::string id = "dry-run";
  auto user = admission_.TaskUserFor(owner, request);
  if (!user.ok()) return user.status();
  StepContext context = JobStepContext(layout_, id, owner, request, config_, *user);
  context.dry_run = true;
  if (absl::Status s = PlanGpus(owner, *cube, request, &context, &plan); !s.ok()) return s;
  std::vector<std::string> steps;
  if (request.action() == mlcube_remote::v1::JOB_ACTION_CONFIGURE ||
      (*runtime)->NeedsConfigure(*cube, context)) {
    steps.push_back("");
  }
  if (request.action() == mlcube_remote::v1::JOB_ACTION_RUN) {
    for (const std::string& task : request.tasks()) steps.push_back(task);
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    context.step = static_cast<int>(i);
    context.step_prefix = layout_.JobStepPrefix(id, context.step);
    mlcube_remote::v1::PlannedStep* step = plan.add_steps();
    step->set_kind(steps[i].empty() ? "configure" : "task");
    step->set_task(steps[i]);
    absl::StatusOr<StepCommand> command;
    if (steps[i].empty()) {
      std::string notes;
      command = (*runtime)->ConfigureCommand(*cube, context, &notes);
      for (absl::string_view line : absl::StrSplit(notes, '\n', absl::SkipEmpty())) {
        plan.add_notes(std::string(absl::StripPrefix(line, "mlcube-agent: ")));
      }
    } else {
      auto prepared = PrepareTaskStep(*cube, steps[i], **runtime, context);
      if (prepared.ok()) {
        for (const std::string& d : prepared->creates) step->add_creates(d);
        command = std::move(prepared->command);
      } else {
        command = prepared.status();
      }
    }
    if (!command.ok()) {
      // The configure step's and the first task's errors are the job's; a
      // later task may depend on what earlier ones make.
      const bool first_task = steps[i].empty() || i == 0 || steps[i - 1].empty();
      if (first_task) return command.status();
      step->set_error(std::string(command.status().message()));
      continue;
    }
    for (const std::string& arg : command->argv) step->add_argv(arg);
    for (const std::string& shown : command->shown_env) step->add_env(shown);
    for (const std::string& note : command->notes) {
      if (std::find(plan.notes().begin(), plan.notes().end(), note) == plan.notes().end()) {
        plan.add_notes(note);
      }
    }
    step->set_cwd(command->cwd);
  }
  if (absl::Status s = AddSlurmNotes(request, &plan); !s.ok()) return s;
  return plan;
}
absl::Status JobManager::CheckQueueRoom(const std::string& owner, size_t jobs) {
  const int limit = config_.limits.queued_jobs;
  if (limit <= 0) return absl::OkStatus();
  size_t queued = 0;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, entry] : jobs_) {
      if (entry->job.owner() == owner &&
          entry->job.state() == mlcube_remote::v1::JOB_STATE_QUEUED) {
        ++queued;
      }
    }
  }
  if (queued + jobs <= static_cast<size_t>(limit)) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      owner, " has ", queued, " jobs queued on this agent; ",
      jobs == 1 ? std::string("one more") : absl::StrCat("these ", jobs, " runs"),
      " would pass the limit of ", limit,
      " queued jobs per identity (limits.queued_jobs in the agent config, set by the agent's "
      "admin): wait for queued jobs to start or cancel some"));
}

absl::StatusOr<Job> JobManager::Submit(const std::string& owner, const SubmitJobRequest& request) {
  absl::MutexLock submit_lock(submit_mutexes_.Of(owner));
  if (!request.client_request_id().empty()) {
    absl::MutexLock lock(&mu_);
    auto it = request_ids_.find(owner + "\n" + request.client_request_id());
    if (it != request_ids_.end()) return Snapshot(*jobs_.at(it->second));
  }
  PruneFinished(owner);
  if (absl::Status s = CheckQueueRoom(owner, 1); !s.ok()) return s;
  absl::StatusOr<GpuRequest> gpus = admission_.CheckSubmittable(owner, request);
  if (!gpus.ok()) return gpus.status();
  auto entry = RecordNewJob(owner, request, /*in_batch=*/false, "", 0);
  if (!entry.ok()) return entry.status();
  absl::MutexLock lock(&mu_);
  jobs_[(*entry)->job.id()] = *entry;
  if (!request.client_request_id().empty()) {
    request_ids_[owner + "\n" + request.client_request_id()] = (*entry)->job.id();
  }
  queue_.Push(TicketOf(**entry, std::move(*gpus)));
  Job snapshot = Snapshot(**entry);
  StartQueuedLocked();
  return snapshot;
}

absl::StatusOr<std::shared_ptr<JobManager::Entry>> JobManager::RecordNewJob(
    const std::string& owner, SubmitJobRequest request, bool in_batch, const std::string& batch_id,
    int batch_index) {
  auto id = store_.CreateJobDir();
  if (!id.ok()) return id.status();
  auto entry = std::make_shared<Entry>();
  Job& job = entry->job;
  if (in_batch) {
    request.set_batch_id(batch_id.empty() ? *id : batch_id);
    job.set_batch_id(request.batch_id());
    job.set_batch_index(batch_index);
  }
  entry->request = std::move(request);
  const SubmitJobRequest& stored = entry->request;
  job.set_id(*id);
  job.set_owner(owner);
  job.set_cube_id(stored.cube_id());
  job.set_action(stored.action());
  for (const std::string& t : stored.tasks()) job.add_tasks(t);
  job.set_runtime(stored.runtime() == mlcube_remote::v1::RUNTIME_UNSPECIFIED
                      ? mlcube_remote::v1::RUNTIME_DOCKER
                      : stored.runtime());
  job.set_scheduler(stored.scheduler().empty() ? "local" : stored.scheduler());
  job.set_metrics_path(stored.metrics_path());
  job.set_state(mlcube_remote::v1::JOB_STATE_QUEUED);
  job.set_created_unix_ms(NowUnixMs());
  absl::Status saved = store_.SaveRequest(*id, WithCallerValuesWithheld(stored));
  if (saved.ok()) saved = store_.Save(job);
  if (saved.ok()) {
    auto log = JobLog::OpenForAppend(store_.LogPath(*id), config_.limits.job_log_bytes);
    if (!log.ok()) {
      saved = log.status();
    } else {
      mlcube_remote::v1::StateChange change;
      change.set_state(mlcube_remote::v1::JOB_STATE_QUEUED);
      change.set_unix_ms(job.created_unix_ms());
      saved = log->Append(JobLog::RecordType::kState, change.SerializeAsString());
    }
  }
  if (!saved.ok()) {
    // Leave nothing half-made behind (a full disk is the usual cause).
    LogIfError(absl::StrCat("removing half-made job ", *id), RemoveTree(store_.JobDir(*id)));
    return absl::ResourceExhaustedError(absl::StrCat("cannot record the job: ", saved.message()));
  }
  LogFields fields;
  fields.job_id = *id;
  fields.identity = owner;
  LogWith(fields, LogLevel::kInfo,
          absl::StrCat("queued: cube ", stored.cube_id(), ", ",
                       stored.action() == mlcube_remote::v1::JOB_ACTION_CONFIGURE
                           ? "configure"
                           : absl::StrCat("tasks ", absl::StrJoin(stored.tasks(), ",")),
                       ", scheduler ", job.scheduler()));
  return entry;
}
absl::StatusOr<std::vector<Job>> JobManager::SubmitBatch(
    const std::string& owner, const mlcube_remote::v1::SubmitJobsRequest& batch) {
  absl::MutexLock submit_lock(submit_mutexes_.Of(owner));
  std::vector<SubmitJobRequest> runs(batch.runs().begin(), batch.runs().end());
  std::vector<Job> known;  // a retried batch
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < runs.size(); ++i) {
      SubmitJobRequest& run = runs[i];
      if (run.client_request_id().empty() && !batch.client_request_id().empty()) {
        run.set_client_request_id(absl::StrCat(batch.client_request_id(), "/", i));
      }
      if (run.client_request_id().empty()) continue;
      auto it = request_ids_.find(owner + "\n" + run.client_request_id());
      if (it != request_ids_.end()) known.push_back(Snapshot(*jobs_.at(it->second)));
    }
  }
  if (known.size() == runs.size()) return known;
  if (!known.empty()) {
    return absl::AlreadyExistsError(absl::StrCat(
        known.size(), " of the batch's runs were submitted before (client_request_id) and ",
        runs.size() - known.size(), " were not: resubmit the batch as it was, or with new ids"));
  }
  PruneFinished(owner);
  if (absl::Status s = CheckQueueRoom(owner, runs.size()); !s.ok()) return s;
  std::vector<GpuRequest> run_gpus;
  for (size_t i = 0; i < runs.size(); ++i) {
    absl::StatusOr<GpuRequest> gpus = admission_.CheckSubmittable(owner, runs[i]);
    if (!gpus.ok()) {
      const absl::Status& s = gpus.status();
      return absl::Status(s.code(), absl::StrCat("runs[", i, "]: ", s.message()));
    }
    run_gpus.push_back(std::move(*gpus));
  }
  if (absl::Status s = JobAdmission::CheckBatchSchedulers(runs); !s.ok()) return s;
  std::vector<std::shared_ptr<Entry>> entries;
  for (size_t i = 0; i < runs.size(); ++i) {
    runs[i].set_batch_parallel(batch.parallel());
    auto entry =
        RecordNewJob(owner, runs[i], /*in_batch=*/true,
                     entries.empty() ? "" : entries[0]->job.batch_id(), static_cast<int>(i));
    if (!entry.ok()) {
      for (const auto& made : entries) {
        LogIfError(absl::StrCat("removing half-made job ", made->job.id()),
                   RemoveTree(store_.JobDir(made->job.id())));
      }
      return absl::Status(entry.status().code(),
                          absl::StrCat("runs[", i, "]: ", entry.status().message()));
    }
    entries.push_back(std::move(*entry));
  }
  std::vector<Job> accepted;
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::shared_ptr<Entry>& entry = entries[i];
    jobs_[entry->job.id()] = entry;
    if (!entry->request.client_request_id().empty()) {
      request_ids_[owner + "\n" + entry->request.client_request_id()] = entry->job.id();
    }
    queue_.Push(TicketOf(*entry, std::move(run_gpus[i])));
    accepted.push_back(Snapshot(*entry));
  }
  StartQueuedLocked();
  return accepted;
}

Job JobManager::Snapshot(const Entry& entry) const {
  Job job = entry.job;
  const std::string log = store_.LogPath(job.id());
  job.set_log_end_offset(JobLog::Size(log));
  job.set_log_truncated(JobLog::Truncated(log));
  return job;
}

absl::StatusOr<Job> JobManager::Get(const std::string& owner, const std::string& id,
                                    const MetricsSeen& seen) {
  std::shared_ptr<Entry> entry;
  Job job;
  {
    absl::MutexLock lock(&mu_);
    entry = FindOwnedLocked(owner, id);
    if (!entry) return absl::NotFoundError(absl::StrCat("no job ", id));
    job = Snapshot(*entry);
  }
  AddMetrics(owner, entry, seen, &job);
  return job;
}

void JobManager::AddMetrics(const std::string& owner, const std::shared_ptr<Entry>& entry,
                            const MetricsSeen& seen, Job* job) {
  // The request never changes after submit; reading it unlocked is safe.
  const SubmitJobRequest& request = entry->request;
  if (request.metrics_path().empty()) return;
  std::string workspace;
  {
    absl::MutexLock lock(&mu_);
    workspace = entry->metrics_workspace;
  }
  if (workspace.empty()) {
    absl::StatusOr<Cube> cube = admission_.LoadJobCube(owner, request);
    absl::Status checked = cube.ok() ? JobMetrics::CheckPath(*cube, request) : cube.status();
    if (!checked.ok()) {
      job->mutable_metrics()->set_error(std::string(checked.message()));
      return;
    }
    workspace = NormalizePath(cube->workspace);
    absl::MutexLock lock(&mu_);
    entry->metrics_workspace = workspace;
  }
  *job->mutable_metrics() = JobMetrics::Read(workspace, request.metrics_path(), seen);
}

absl::StatusOr<CubeJobs::Outputs> JobManager::OutputsOf(const std::string& owner,
                                                        const std::string& id) {
  absl::StatusOr<SubmitJobRequest> request = RequestOf(owner, id);
  if (!request.ok()) return request.status();
  auto cube = admission_.LoadJobCube(owner, *request);
  if (!cube.ok()) return cube.status();
  return Outputs{request->cube_id(),
                 WorkspaceOutputPaths(*cube, std::vector<std::string>(request->tasks().begin(),
                                                                      request->tasks().end()))};
}

std::vector<std::string> JobManager::UnfinishedJobsOf(const std::string& owner,
                                                      const std::string& cube_id) {
  std::vector<std::string> ids;
  for (const Job& job : List(owner, /*all=*/false, cube_id)) ids.push_back(job.id());
  return ids;
}

JobRetention JobManager::Retention() const {
  return JobRetention{config_.limits.finished_jobs_kept_days, config_.limits.finished_jobs_kept};
}

void JobManager::PruneFinished(const std::string& owner) {
  const JobRetention retention = Retention();
  if (retention.kept_days <= 0 && retention.kept <= 0) return;
  std::vector<std::string> expired;
  {
    absl::MutexLock lock(&mu_);
    std::vector<Job> finished;
    for (const auto& [id, entry] : jobs_) {
      if (entry->job.owner() == owner && IsFinalState(entry->job.state())) {
        finished.push_back(entry->job);
      }
    }
    expired = retention.Expired(finished, NowUnixMs());
    if (expired.empty()) return;
    for (const std::string& id : expired) jobs_.erase(id);
    for (auto it = request_ids_.begin(); it != request_ids_.end();) {
      it = jobs_.count(it->second) == 0 ? request_ids_.erase(it) : std::next(it);
    }
    pruned_by_owner_[owner] += static_cast<int64_t>(expired.size());
  }
  for (const std::string& id : expired) {
    if (absl::Status removed = RemoveTree(store_.JobDir(id)); !removed.ok()) {
      LogWarning(absl::StrCat("removing finished job ", id, ": ", removed.message()));
    }
  }
}

std::pair<int64_t, std::string> JobManager::PrunedOf(const std::string& owner) {
  const JobRetention retention = Retention();
  absl::MutexLock lock(&mu_);
  auto it = pruned_by_owner_.find(owner);
  return {it == pruned_by_owner_.end() ? 0 : it->second, retention.Describe()};
}

int64_t JobManager::JobBytesOf(const std::string& owner) {
  std::vector<std::string> ids;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, entry] : jobs_) {
      if (entry->job.owner() == owner) ids.push_back(id);
    }
  }
  int64_t total = 0;
  for (const std::string& id : ids) total += store_.DiskBytes(id);
  return total;
}

std::vector<Job> JobManager::List(const std::string& owner, bool all, const std::string& cube_id) {
  if (all) PruneFinished(owner);
  std::vector<Job> jobs;
  absl::MutexLock lock(&mu_);
  for (const auto& [id, entry] : jobs_) {
    if (entry->job.owner() != owner) continue;
    if (!all && IsFinalState(entry->job.state())) continue;
    if (!cube_id.empty() && entry->job.cube_id() != cube_id) continue;
    jobs.push_back(Snapshot(*entry));
  }
  std::sort(jobs.begin(), jobs.end(),
            [](const Job& a, const Job& b) { return a.created_unix_ms() < b.created_unix_ms(); });
  return jobs;
}

bool JobManager::IsFinal(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(id);
  return it == jobs_.end() || IsFinalState(it->second->job.state());
}

std::shared_ptr<JobManager::Entry> JobManager::FindOwnedLocked(const std::string& owner,
                                                               const std::string& id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second->job.owner() != owner) return nullptr;
  return it->second;
}

absl::StatusOr<SubmitJobRequest> JobManager::RequestOf(const std::string& owner,
                                                       const std::string& id) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<Entry> entry = FindOwnedLocked(owner, id);
  if (!entry) return absl::NotFoundError(absl::StrCat("no job ", id));
  return entry->request;
}

absl::StatusOr<SubmitJobRequest> JobManager::RequestToRerun(const std::string& owner,
                                                            const std::string& id) {
  absl::StatusOr<SubmitJobRequest> stored = RequestOf(owner, id);
  if (!stored.ok()) return stored.status();
  SubmitJobRequest request = *std::move(stored);
  if (!request.caller_env_withheld().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", id, " copied ", absl::StrJoin(request.caller_env_withheld(), ", "),
        " from your environment and the agent restarted since, so their values are gone: run it "
        "again with mlcube-remote run"));
  }
  // One rank of a job across hosts (the controller's run --nodes) alone
  // would wait at its rendezvous for ranks that never come.
  if (auto gang = request.env().find("MLCUBE_GANG"); gang != request.env().end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", id, " is one rank of ", gang->second,
                     ", a job across hosts: start it again with mlcube-remote run --nodes"));
  }
  request.clear_batch_id();
  request.clear_batch_parallel();
  request.clear_client_request_id();
  return request;
}

absl::StatusOr<Job> JobManager::Cancel(const std::string& owner, const std::string& id) {
  std::shared_ptr<Entry> entry;
  bool queued = false;
  {
    absl::MutexLock lock(&mu_);
    entry = FindOwnedLocked(owner, id);
    if (!entry) return absl::NotFoundError(absl::StrCat("no job ", id));
    if (IsFinalState(entry->job.state())) return Snapshot(*entry);
    entry->cancel_requested = true;
    queued = queue_.Remove(id);
  }
  // Persisted so that a restarted agent still cancels (this agent cancels
  // either way).
  LogIfError(absl::StrCat("job ", id, ": recording the cancel"),
             WriteFileAtomically(layout_.JobCancelFile(id), owner + "\n"));
  if (queued) {
    SetState(entry, mlcube_remote::v1::JOB_STATE_CANCELLED, 0,
             absl::StrCat("cancelled by ", owner, " while queued"), "");
  }
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(
                           +[](Entry* e) { return IsFinalState(e->job.state()); }, entry.get()),
                       absl::Seconds(15));
  return Snapshot(*entry);
}

bool JobManager::CancelRequested(const std::shared_ptr<Entry>& entry) {
  absl::MutexLock lock(&mu_);
  return entry->cancel_requested;
}

QueuedJob JobManager::TicketOf(const Entry& entry, GpuRequest gpus) {
  QueuedJob ticket;
  ticket.id = entry.job.id();
  ticket.owner = entry.job.owner();
  ticket.batch_id = entry.job.batch_id();
  ticket.batch_parallel = entry.request.batch_parallel();
  ticket.array_element = IsArrayRun(entry.request);
  ticket.gpus = std::move(gpus);
  ticket.holds_gpus = !entry.job.gpus().empty();
  return ticket;
}

void JobManager::StartQueuedLocked() {
  if (stopping_) return;
  queue_.StartWhatMay([this](const QueuedJob& queued, const std::vector<GpuDevice>& devices)
                          ABSL_NO_THREAD_SAFETY_ANALYSIS {  // called under mu_
                            return StartQueuedJobLocked(queued, devices);
                          });
  for (const auto& [id, reason] : queue_.GpuWaitReasons()) {
    if (auto it = jobs_.find(id); it != jobs_.end()) it->second->job.set_reason(reason);
  }
}

bool JobManager::StartQueuedJobLocked(const QueuedJob& queued,
                                      const std::vector<GpuDevice>& devices) {
  auto it = jobs_.find(queued.id);
  if (stopping_ || it == jobs_.end()) return false;
  Job& job = it->second->job;
  if (!devices.empty()) {
    RecordAllocatedDevices(devices, &job);
    job.clear_reason();
  }
  if (SpawnJobThreadLocked(it->second)) return true;
  if (!devices.empty()) job.clear_gpus();
  return false;
}

GpuRequest JobManager::RestoreGpusLocked(const Entry& entry) {
  if (inventory_.gpus().empty()) return {};  // nothing is allocated here
  GpuRequest needed;
  auto cube = admission_.LoadJobCube(entry.job.owner(), entry.request);
  if (cube.ok()) needed = admission_.GpuRequestOf(*cube, entry.request).value_or(GpuRequest{});
  if (entry.job.gpus().empty()) return needed;
  std::vector<int> indices;
  for (const auto& held : entry.job.gpus()) indices.push_back(held.index());
  gpus_.Restore(entry.job.id(), entry.job.owner(), indices);
  return needed;
}

absl::Status JobManager::PlanGpus(const std::string& owner, const Cube& cube,
                                  const SubmitJobRequest& request, StepContext* context,
                                  mlcube_remote::v1::JobPlan* plan) {
  absl::StatusOr<GpuRequest> asked = admission_.GpuRequestOf(cube, request);
  if (!asked.ok()) return asked.status();
  if (asked->empty()) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  std::optional<std::vector<GpuDevice>> now = gpus_.Peek(*asked);
  if (!now.has_value()) {
    plan->add_notes(
        absl::StrCat("the job would wait in the queue: ", gpus_.WaitReason(owner, *asked)));
    return absl::OkStatus();
  }
  GiveGpus(*now, context);
  return absl::OkStatus();
}

int JobManager::FreeGpus() {
  absl::MutexLock lock(&mu_);
  return gpus_.free_count();
}

namespace {

// "running" for JOB_STATE_RUNNING: a metric label.
std::string StateLabel(JobState state) {
  return absl::AsciiStrToLower(
      absl::StripPrefix(mlcube_remote::v1::JobState_Name(state), "JOB_STATE_"));
}

}  // namespace

std::map<std::string, int> JobManager::CountByState() {
  absl::MutexLock lock(&mu_);
  std::map<std::string, int> counts;
  for (const auto& [unused, entry] : jobs_) ++counts[StateLabel(entry->job.state())];
  return counts;
}

void JobManager::RecordFinished(const Job& job, const SubmitJobRequest& request) const {
  if (statistics_ == nullptr) return;
  FinishedJob finished;
  finished.outcome = StateLabel(job.state());
  finished.runtime = RuntimeName(request.runtime());
  finished.scheduler = request.scheduler().empty() ? "local" : request.scheduler();
  if (job.started_unix_ms() > 0) {
    finished.run_seconds = (job.finished_unix_ms() - job.started_unix_ms()) / 1000.0;
    finished.queue_wait_seconds = (job.started_unix_ms() - job.created_unix_ms()) / 1000.0;
  }
  statistics_->RecordFinished(finished);
}

bool JobManager::SpawnJobThreadLocked(const std::shared_ptr<Entry>& entry) {
  try {
    // Detached: a finished job's thread must not linger until shutdown;
    // Stop() waits for the queue to count no started job instead.
    std::thread([this, entry] { RunJob(entry); }).detach();
  } catch (const std::system_error& e) {
    // Out of threads: the job waits in the queue; the agent goes on.
    LogWarning(absl::StrCat("cannot start a job thread: ", e.what()));
    return false;
  }
  return true;
}

void JobManager::SetState(const std::shared_ptr<Entry>& entry, JobState state, int exit_code,
                          const std::string& reason, const std::string& current_task) {
  const int64_t now = NowUnixMs();
  std::string id;
  Job before;
  {
    absl::MutexLock lock(&mu_);
    const Job& job = entry->job;
    if (job.state() == state && job.current_task() == current_task && !IsFinalState(state)) {
      return;  // re-attaching after a restart: nothing changed
    }
    id = job.id();
    before = job;
  }
  // The record goes to the log before the state changes in memory: a
  // watcher that sees a final state and then reads to the end of the log
  // has seen every record.
  mlcube_remote::v1::StateChange change;
  change.set_state(state);
  change.set_exit_code(exit_code);
  change.set_reason(reason);
  change.set_current_task(current_task);
  change.set_unix_ms(now);
  auto log = JobLog::OpenForAppend(store_.LogPath(id), config_.limits.job_log_bytes);
  LogIfError(absl::StrCat("job ", id, ": writing its state to its log"),
             log.ok() ? log->Append(JobLog::RecordType::kState, change.SerializeAsString())
                      : log.status());
  Job copy;
  {
    absl::MutexLock lock(&mu_);
    Job& job = entry->job;
    job.set_state(state);
    job.set_exit_code(exit_code);
    job.set_reason(reason);
    job.set_current_task(current_task);
    if (!IsFinalState(state) && state != mlcube_remote::v1::JOB_STATE_QUEUED &&
        job.started_unix_ms() == 0) {
      job.set_started_unix_ms(now);
    }
    if (IsFinalState(state)) job.set_finished_unix_ms(now);
    copy = job;
  }
  if (IsFinalState(state)) RecordFinished(copy, entry->request);
  LogTransition(before, copy);
  absl::Status saved = store_.Save(copy);
  if (!saved.ok()) {
    LogWarning(absl::StrCat("job ", id, ": ", saved.message()));
  }
  // Its batch's array no longer waits for it (a no-op once it joined).
  if (IsFinalState(state) && IsArrayRun(entry->request)) {
    const std::string& batch_id = entry->job.batch_id();
    arrays_.Withdraw(batch_id, entry->job.batch_index());
    // The batch's last run has ended: nothing will join its array again.
    if (UnfinishedArrayRuns(batch_id, entry->job.owner()).empty()) arrays_.Forget(batch_id);
  }
}

std::shared_ptr<SlurmArrayBatch> JobManager::ArrayOf(const std::shared_ptr<Entry>& entry) {
  const std::string batch_id = entry->job.batch_id();
  const std::string owner = entry->job.owner();
  return arrays_.Of(batch_id, entry->request.batch_parallel(),
                    [this, &batch_id, &owner] { return UnfinishedArrayRuns(batch_id, owner); });
}

std::set<int> JobManager::UnfinishedArrayRuns(const std::string& batch_id,
                                              const std::string& owner) {
  absl::MutexLock lock(&mu_);
  std::set<int> unfinished;
  for (const auto& [unused, other] : jobs_) {
    if (other->job.batch_id() == batch_id && other->job.owner() == owner &&
        IsArrayRun(other->request) && !IsFinalState(other->job.state())) {
      unfinished.insert(other->job.batch_index());
    }
  }
  return unfinished;
}

void JobManager::LogTransition(const Job& before, const Job& after) {
  LogFields fields;
  fields.job_id = after.id();
  fields.identity = after.owner();
  if (IsFinalState(after.state())) {
    std::string line = JobStateName(after.state());
    if (after.exit_code() != 0) absl::StrAppend(&line, " (exit code ", after.exit_code(), ")");
    if (after.started_unix_ms() > 0) {
      absl::StrAppend(
          &line, absl::StrFormat(" after %.1f s",
                                 (after.finished_unix_ms() - after.started_unix_ms()) / 1000.0));
    }
    if (!after.reason().empty()) absl::StrAppend(&line, ": ", after.reason());
    const bool failed = after.state() == mlcube_remote::v1::JOB_STATE_FAILED;
    LogWith(fields, failed ? LogLevel::kWarning : LogLevel::kInfo, line);
  } else if (!after.current_task().empty() && after.current_task() != before.current_task()) {
    LogWith(fields, LogLevel::kInfo, absl::StrCat("running task ", after.current_task()));
  } else if (after.state() != before.state()) {
    LogWith(fields, LogLevel::kInfo, JobStateName(after.state()));
  }
}

void JobManager::RunJob(std::shared_ptr<Entry> entry) {
  LogFields fields;
  fields.job_id = entry->job.id();
  fields.identity = entry->job.owner();
  // Every record this thread writes is about this job.
  LogScope scope(fields, LogScope::Outer::kIgnore);
  if (workspaces_ != nullptr)
    workspaces_->MarkWorkspaceUsed(entry->job.owner(), entry->job.cube_id());
  JobOutcome outcome = Execute(entry);
  if (outcome.state != mlcube_remote::v1::JOB_STATE_UNSPECIFIED) {
    // Runtime scratch (Apptainer's unpacked sandboxes) goes with the job.
    LogIfError(absl::StrCat("job ", entry->job.id(), ": removing its scratch space"),
               RemoveTree(layout_.JobScratchDir(entry->job.id())));
    // Env files may hold secrets; they are not needed once the job is over.
    RemoveNamedBelow(layout_.JobDir(entry->job.id()), StateLayout::kStepPrefix,
                     StateLayout::kEnvSuffix);
    SetState(entry, outcome.state, outcome.exit_code, outcome.reason, "");
  }
  absl::MutexLock lock(&mu_);
  queue_.Finished(entry->job.id());
  StartQueuedLocked();
}

// The job manager's side of one running job.
class JobManager::EntryControl final : public JobControl {
 public:
  EntryControl(JobManager* manager, std::shared_ptr<Entry> entry)
      : manager_(manager), entry_(std::move(entry)) {}
  void SetState(JobState state, int exit_code, const std::string& reason,
                const std::string& current_task) override {
    manager_->SetState(entry_, state, exit_code, reason, current_task);
  }
  bool CancelRequested() override { return manager_->CancelRequested(entry_); }
  bool Stopping() override { return manager_->stopping_; }
  absl::Mutex* StepStartMutex() override {
    return manager_->step_start_mutexes_.Of(entry_->job.owner());
  }

 private:
  JobManager* manager_;
  std::shared_ptr<Entry> entry_;
};

absl::StatusOr<std::unique_ptr<SlurmStepScheduler>> JobManager::MakeSlurmScheduler(
    const std::shared_ptr<Entry>& entry, const std::string& job_id,
    const SubmitJobRequest& request) {
  auto settings = ParseSlurmSettings(
      std::map<std::string, std::string>(request.slurm().begin(), request.slurm().end()));
  if (!settings.ok()) return settings.status();
  auto options = SbatchResourceOptions(*settings, request.gpus());
  if (!options.ok()) return options.status();
  SlurmConveniences conveniences;
  if (settings->scratch) {
    conveniences.scratch_dir = layout_.JobScratchStorageDir(job_id);
    // Bound through APPTAINER_BIND, a bind list like --bind's.
    if (absl::Status s =
            MountSpec::CheckPath(MountGrammar::kApptainerBind, conveniences.scratch_dir);
        !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("slurm.scratch: ", s.message()));
    }
  }
  conveniences.node_tmp = settings->node_tmp;
  auto stage = admission_.ResolveStage(request);
  if (!stage.ok()) return stage.status();
  conveniences.stage = std::move(*stage);
  if (!conveniences.scratch_dir.empty()) {
    absl::MutexLock lock(&mu_);
    entry->job.set_scratch_dir(conveniences.scratch_dir);
  }
  SlurmRanks ranks;
  ranks.count = settings->Ranks();
  ranks.tasks_per_node = settings->TasksPerNode();
  ranks.mpi = settings->mpi;
  auto scheduler = std::make_unique<SlurmStepScheduler>(
      &slurm_scheduler_, &local_scheduler_, job_id, *options, settings->configure_as_job,
      conveniences, ranks, [this, entry](const std::string& slurm_id, const SlurmStepState& state) {
        SetSchedulerInfo(
            entry, slurm_id,
            state.phase == SlurmStepState::Phase::kPending ? state.pending_reason : "");
      });
  if (IsArrayRun(entry->request)) {
    scheduler->JoinArray(ArrayOf(entry), entry->job.batch_index(),
                         [this, entry] { return stopping_ || CancelRequested(entry); });
  }
  return scheduler;
}

bool JobManager::WaitForBatchLeader(const std::shared_ptr<Entry>& entry) {
  absl::MutexLock lock(&mu_);
  if (entry->job.batch_id().empty() || entry->job.batch_index() == 0) return true;
  std::shared_ptr<Entry> leader;
  for (const auto& [unused, other] : jobs_) {
    if (other->job.batch_id() == entry->job.batch_id() && other->job.batch_index() == 0 &&
        other->job.owner() == entry->job.owner()) {
      leader = other;
    }
  }
  if (!leader) return true;
  struct Args {
    JobManager* manager;
    Entry* leader;
    Entry* self;
  } args{this, leader.get(), entry.get()};
  // Past its configure step (or over), or this run is cancelled, or the
  // agent stops.
  auto ready = +[](Args* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    const JobState state = a->leader->job.state();
    return state == mlcube_remote::v1::JOB_STATE_RUNNING || IsFinalState(state) ||
           a->self->cancel_requested || a->manager->stopping_;
  };
  while (!mu_.AwaitWithTimeout(absl::Condition(ready, &args), absl::Milliseconds(200))) {
  }
  return !stopping_;
}

JobOutcome JobManager::Execute(const std::shared_ptr<Entry>& entry) {
  Job job;
  SubmitJobRequest request;
  {
    absl::MutexLock lock(&mu_);
    job = entry->job;
    request = entry->request;
  }
  if (!WaitForBatchLeader(entry)) return JobOutcome{};  // the agent is stopping
  if (CancelRequested(entry)) return CancelledOutcome(layout_, job.id(), 0);
  auto cube = admission_.LoadJobCube(job.owner(), request);
  if (!cube.ok()) {
    return JobOutcome{mlcube_remote::v1::JOB_STATE_FAILED, 0,
                      absl::StrCat("cannot load the cube: ", cube.status().message())};
  }
  auto runtime = admission_.MakeRuntime(request.runtime());
  if (!runtime.ok()) {
    return JobOutcome{mlcube_remote::v1::JOB_STATE_FAILED, 0,
                      std::string(runtime.status().message())};
  }
  auto user = admission_.TaskUserFor(job.owner(), request);
  if (!user.ok()) {
    return JobOutcome{mlcube_remote::v1::JOB_STATE_FAILED, 0, std::string(user.status().message())};
  }
  EntryControl control(this, entry);
  StepScheduler* scheduler = &local_scheduler_;
  std::unique_ptr<SlurmStepScheduler> slurm;
  if (request.scheduler() == "slurm") {
    auto made = MakeSlurmScheduler(entry, job.id(), request);
    if (!made.ok()) {
      return JobOutcome{mlcube_remote::v1::JOB_STATE_FAILED, 0,
                        std::string(made.status().message())};
    }
    slurm = std::move(*made);
    scheduler = slurm.get();
  }
  JobRunner runner(config_, layout_, scheduler, &control, std::move(job), std::move(request),
                   std::move(*cube), std::move(*runtime), *user);
  return runner.Run();
}

}  // namespace mlcube
