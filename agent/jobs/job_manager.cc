#include "agent/jobs/job_manager.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "agent/job_log.h"
#include "agent/jobs/build_context_placement.h"
#include "agent/jobs/task_step.h"
#include "agent/request_validator.h"
#include "agent/runtimes/apptainer_runtime.h"
#include "agent/runtimes/docker_runtime.h"
#include "agent/schedulers/task_supervisor.h"
#include "agent/subprocess.h"
#include "common/config_tree.h"
#include "common/cube_loader.h"
#include "common/directory_tree.h"
#include "common/file_util.h"
#include "common/mount_planner.h"
#include "common/safe_path.h"

namespace mlcube {

using mlcube_remote::v1::Job;
using mlcube_remote::v1::JobState;
using mlcube_remote::v1::SubmitJobRequest;

namespace {

constexpr char kConfigureStep[] = "configure";
constexpr char kTaskStepPrefix[] = "task:";

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string ShellQuoteForLog(const std::vector<std::string>& argv) {
  std::vector<std::string> words;
  for (const std::string& a : argv) {
    if (a.find_first_of(" \t\"'$\\") == std::string::npos && !a.empty()) {
      words.push_back(a);
    } else {
      words.push_back(absl::StrCat("'", absl::StrJoin(absl::StrSplit(a, '\''), "'\\''"), "'"));
    }
  }
  return absl::StrJoin(words, " ");
}

}  // namespace

bool IsFinalState(JobState state) {
  return state == mlcube_remote::v1::JOB_STATE_SUCCEEDED ||
         state == mlcube_remote::v1::JOB_STATE_FAILED ||
         state == mlcube_remote::v1::JOB_STATE_CANCELLED;
}

JobManager::JobManager(const AgentConfig& config, const StateLayout& layout,
                       const RuntimeInventory& inventory, std::string self_exe)
    : config_(config),
      layout_(layout),
      inventory_(inventory),
      self_exe_(std::move(self_exe)),
      store_(&layout) {}

JobManager::~JobManager() {
  stopping_ = true;  // job threads stop waiting for their steps and return
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* running) { return *running == 0; }, &running_));
}

void JobManager::Start(WorkspaceUseRecorder* workspaces) {
  workspaces_ = workspaces;
  std::vector<StoredJob> stored = store_.LoadAll();
  std::sort(stored.begin(), stored.end(), [](const StoredJob& a, const StoredJob& b) {
    return a.job.created_unix_ms() < b.job.created_unix_ms();
  });
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
    if (state == mlcube_remote::v1::JOB_STATE_QUEUED) {
      queue_.push_back(entry);
    } else if (!IsFinalState(state)) {
      // It was running when the agent stopped: re-attach to its step.
      if (!SpawnJobThreadLocked(entry)) queue_.push_back(entry);
    }
  }
  StartQueuedLocked();
}

absl::StatusOr<Cube> JobManager::LoadJobCube(const std::string& owner,
                                             const SubmitJobRequest& request) const {
  if (absl::Status s = ValidateCubeId(request.cube_id()); !s.ok()) return s;
  const std::string root = layout_.CubeDir(owner, request.cube_id());
  struct stat st {};
  if (stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(
        absl::StrCat("cube '", request.cube_id(), "' is not on this agent (sync it first)"));
  }
  CubeLoadOptions options;
  options.path = root;
  if (!request.platform_file().empty()) {
    auto platform = JoinConfined(root, request.platform_file());
    if (!platform.ok()) return platform.status();
    options.platform_file = *platform;
  }
  for (const auto& [key, value] : request.overrides()) {
    options.overrides.push_back(absl::StrCat(key, "=", value));
  }
  std::sort(options.overrides.begin(), options.overrides.end());
  // The host's settings from the caller's hosts file sit under the cube's.
  std::map<std::string, std::string> defaults(request.platform_defaults().begin(),
                                              request.platform_defaults().end());
  auto host_defaults = TreeFromKeyPaths(defaults);
  if (!host_defaults.ok()) return host_defaults.status();
  options.host_defaults = *host_defaults;
  auto cube = LoadCube(options);
  if (!cube.ok()) return cube.status();
  // A remote caller must not point the agent at host paths: the workspace
  // stays the cube's own; a build context outside the cube is the tree the
  // caller synced for it, or none (PlaceBuildContexts).
  if (NormalizePath(cube->workspace) != NormalizePath(root + "/workspace")) {
    return absl::InvalidArgumentError(
        "runtime.workspace cannot be changed on the agent (the workspace is the synced one)");
  }
  const std::string context_dir =
      request.build_context_id().empty() ? "" : layout_.CubeDir(owner, request.build_context_id());
  if (absl::Status s = PlaceBuildContexts(root, context_dir, &*cube); !s.ok()) return s;
  return cube;
}

absl::StatusOr<std::unique_ptr<ContainerRuntime>> JobManager::MakeRuntime(
    mlcube_remote::v1::Runtime runtime) const {
  switch (runtime) {
    case mlcube_remote::v1::RUNTIME_UNSPECIFIED:
    case mlcube_remote::v1::RUNTIME_DOCKER:
    case mlcube_remote::v1::RUNTIME_PODMAN: {
      const std::string name = runtime == mlcube_remote::v1::RUNTIME_PODMAN ? "podman" : "docker";
      const DetectedRuntime* found = inventory_.Find(name);
      if (!found) {
        return absl::FailedPreconditionError(
            absl::StrCat("runtime ", name,
                         " is not installed on this agent (or disabled in its "
                         "config)"));
      }
      return std::unique_ptr<ContainerRuntime>(new DockerRuntime(found->name, found->binary));
    }
    case mlcube_remote::v1::RUNTIME_SINGULARITY: {
      const DetectedRuntime* found = inventory_.FindSingularity();
      if (!found) {
        return absl::FailedPreconditionError(
            "neither apptainer nor singularity is installed on this agent (tools/"
            "install-apptainer.sh installs Apptainer)");
      }
      const DetectedRuntime* docker = inventory_.Find("docker");
      return std::unique_ptr<ContainerRuntime>(
          new ApptainerRuntime(found->name, found->binary, docker ? docker->binary : ""));
    }
    default:
      return absl::InvalidArgumentError("unknown runtime");
  }
}

StepContext JobManager::JobStepContext(const std::string& id, const std::string& owner,
                                       const SubmitJobRequest& request) const {
  StepContext context;
  context.job_id = id;
  context.uid = getuid();
  context.gid = getgid();
  context.env.insert(request.env().begin(), request.env().end());
  context.gpus = request.gpus();
  context.job_dir = store_.JobDir(id);
  context.scratch_dir = layout_.JobScratchDir(id);
  context.owner = owner;
  context.image_dir = layout_.OwnerImagesDir(owner);
  return context;
}

absl::StatusOr<mlcube_remote::v1::JobPlan> JobManager::Plan(const std::string& owner,
                                                            const SubmitJobRequest& request) {
  auto runtime = MakeRuntime(request.runtime());
  if (!runtime.ok()) return runtime.status();
  auto cube = LoadJobCube(owner, request);
  if (!cube.ok()) return cube.status();
  mlcube_remote::v1::JobPlan plan;
  plan.set_cube_root(NormalizePath(layout_.CubeDir(owner, request.cube_id())));
  for (const std::string& warning : cube->warnings) plan.add_warnings(warning);
  const std::string id = "dry-run";
  StepContext context = JobStepContext(id, owner, request);
  context.dry_run = true;
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
    step->set_cwd(command->cwd);
  }
  return plan;
}

absl::Status JobManager::CheckSubmittable(const std::string& owner,
                                          const SubmitJobRequest& request) const {
  if (request.action() != mlcube_remote::v1::JOB_ACTION_CONFIGURE &&
      request.action() != mlcube_remote::v1::JOB_ACTION_RUN) {
    return absl::InvalidArgumentError("action must be configure or run");
  }
  if (request.action() == mlcube_remote::v1::JOB_ACTION_RUN && request.tasks().empty()) {
    return absl::InvalidArgumentError("run needs at least one task");
  }
  auto runtime = MakeRuntime(request.runtime());
  if (!runtime.ok()) return runtime.status();
  auto cube = LoadJobCube(owner, request);
  if (!cube.ok()) return cube.status();
  if (!request.build_context_id().empty() &&
      !IsDirectory(layout_.CubeDir(owner, request.build_context_id()))) {
    return absl::NotFoundError(absl::StrCat("build context '", request.build_context_id(),
                                            "' is not on this agent (push it first)"));
  }
  for (const std::string* image : {&cube->docker.image, &cube->singularity.build_file}) {
    const std::string name =
        absl::StartsWith(*image, "docker-daemon:") ? image->substr(14) : *image;
    if (absl::Status s = CheckCubeImageName(
            name, image == &cube->docker.image ? "docker.image" : "singularity.build_file");
        !s.ok()) {
      return s;
    }
  }
  if (request.action() == mlcube_remote::v1::JOB_ACTION_RUN) {
    for (int i = 0; i < request.tasks_size(); ++i) {
      if (absl::Status s = CheckTaskAtSubmit(*cube, request.tasks(i), i > 0); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Job> JobManager::Submit(const std::string& owner, const SubmitJobRequest& request) {
  absl::MutexLock submit_lock(&submit_mu_);
  if (!request.client_request_id().empty()) {
    absl::MutexLock lock(&mu_);
    auto it = request_ids_.find(owner + "\n" + request.client_request_id());
    if (it != request_ids_.end()) return Snapshot(*jobs_.at(it->second));
  }
  if (absl::Status s = CheckSubmittable(owner, request); !s.ok()) return s;

  auto id = store_.CreateJobDir();
  if (!id.ok()) return id.status();
  auto entry = std::make_shared<Entry>();
  entry->request = request;
  Job& job = entry->job;
  job.set_id(*id);
  job.set_owner(owner);
  job.set_cube_id(request.cube_id());
  job.set_action(request.action());
  for (const std::string& t : request.tasks()) job.add_tasks(t);
  job.set_runtime(request.runtime() == mlcube_remote::v1::RUNTIME_UNSPECIFIED
                      ? mlcube_remote::v1::RUNTIME_DOCKER
                      : request.runtime());
  job.set_state(mlcube_remote::v1::JOB_STATE_QUEUED);
  job.set_created_unix_ms(NowUnixMs());
  absl::Status saved = store_.SaveRequest(*id, request);
  if (saved.ok()) saved = store_.Save(job);
  if (saved.ok()) {
    auto log = JobLog::OpenForAppend(store_.LogPath(*id), config_.log_max_bytes);
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
    (void)RemoveTree(store_.JobDir(*id));
    return absl::ResourceExhaustedError(absl::StrCat("cannot record the job: ", saved.message()));
  }
  absl::MutexLock lock(&mu_);
  jobs_[*id] = entry;
  if (!request.client_request_id().empty()) {
    request_ids_[owner + "\n" + request.client_request_id()] = *id;
  }
  queue_.push_back(entry);
  Job snapshot = Snapshot(*entry);
  StartQueuedLocked();
  return snapshot;
}

Job JobManager::Snapshot(const Entry& entry) const {
  Job job = entry.job;
  const std::string log = store_.LogPath(job.id());
  job.set_log_end_offset(JobLog::Size(log));
  job.set_log_truncated(JobLog::Truncated(log));
  return job;
}

absl::StatusOr<Job> JobManager::Get(const std::string& owner, const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second->job.owner() != owner) {
    return absl::NotFoundError(absl::StrCat("no job ", id));
  }
  return Snapshot(*it->second);
}

absl::StatusOr<CubeJobs::Outputs> JobManager::OutputsOf(const std::string& owner,
                                                        const std::string& id) {
  SubmitJobRequest request;
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second->job.owner() != owner) {
      return absl::NotFoundError(absl::StrCat("no job ", id));
    }
    request = it->second->request;
  }
  auto cube = LoadJobCube(owner, request);
  if (!cube.ok()) return cube.status();
  const std::string workspace = NormalizePath(cube->workspace);
  std::vector<std::string> paths;
  for (const std::string& task_name : request.tasks()) {
    auto task = cube->tasks.find(task_name);
    if (task == cube->tasks.end()) continue;
    for (const Parameter& output : task->second.outputs) {
      const std::string norm = NormalizePath(output.host_path);
      if (!IsWithin(norm, workspace) || norm == workspace) continue;
      paths.push_back(norm.substr(workspace.size() + 1));
    }
  }
  return Outputs{request.cube_id(), std::move(paths)};
}

std::vector<std::string> JobManager::UnfinishedJobsOf(const std::string& owner,
                                                      const std::string& cube_id) {
  std::vector<std::string> ids;
  for (const Job& job : List(owner, /*all=*/false, cube_id)) ids.push_back(job.id());
  return ids;
}

std::vector<Job> JobManager::List(const std::string& owner, bool all, const std::string& cube_id) {
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

absl::StatusOr<Job> JobManager::Cancel(const std::string& owner, const std::string& id) {
  std::shared_ptr<Entry> entry;
  bool queued = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second->job.owner() != owner) {
      return absl::NotFoundError(absl::StrCat("no job ", id));
    }
    entry = it->second;
    if (IsFinalState(entry->job.state())) return Snapshot(*entry);
    entry->cancel_requested = true;
    auto q = std::find(queue_.begin(), queue_.end(), entry);
    if (q != queue_.end()) {
      queue_.erase(q);
      queued = true;
    }
  }
  // Persisted so that a restarted agent still cancels.
  (void)WriteFileAtomically(layout_.JobCancelFile(id), owner + "\n");
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

void JobManager::StartQueuedLocked() {
  // First come, first served, skipping identities at their own limit so one
  // identity's long queue never holds back another's jobs.
  const int per_identity = config_.limits.running_jobs;
  for (auto it = queue_.begin();
       it != queue_.end() && running_ < config_.max_concurrent_jobs && !stopping_;) {
    const std::string& owner = (*it)->job.owner();
    if (per_identity > 0 && running_by_owner_[owner] >= per_identity) {
      ++it;
      continue;
    }
    if (!SpawnJobThreadLocked(*it)) return;  // retried when another job ends
    it = queue_.erase(it);
  }
}

bool JobManager::SpawnJobThreadLocked(const std::shared_ptr<Entry>& entry) {
  try {
    // Detached: a finished job's thread must not linger until shutdown;
    // the destructor waits for running_ to reach zero instead.
    std::thread([this, entry] { RunJob(entry); }).detach();
  } catch (const std::system_error& e) {
    // Out of threads: the job waits in the queue; the agent goes on.
    fprintf(stderr, "mlcube-agent: cannot start a job thread: %s\n", e.what());
    return false;
  }
  ++running_;
  ++running_by_owner_[entry->job.owner()];
  return true;
}

void JobManager::AgentLog(const std::string& id, const std::string& text) {
  auto log = JobLog::OpenForAppend(store_.LogPath(id), config_.log_max_bytes);
  if (log.ok()) (void)log->Append(JobLog::RecordType::kAgent, text);
}

void JobManager::SetState(const std::shared_ptr<Entry>& entry, JobState state, int exit_code,
                          const std::string& reason, const std::string& current_task) {
  const int64_t now = NowUnixMs();
  std::string id;
  {
    absl::MutexLock lock(&mu_);
    const Job& job = entry->job;
    if (job.state() == state && job.current_task() == current_task && !IsFinalState(state)) {
      return;  // re-attaching after a restart: nothing changed
    }
    id = job.id();
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
  auto log = JobLog::OpenForAppend(store_.LogPath(id), config_.log_max_bytes);
  if (log.ok()) (void)log->Append(JobLog::RecordType::kState, change.SerializeAsString());
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
  absl::Status saved = store_.Save(copy);
  if (!saved.ok()) {
    fprintf(stderr, "mlcube-agent: job %s: %s\n", id.c_str(), std::string(saved.message()).c_str());
  }
}

void JobManager::RunJob(std::shared_ptr<Entry> entry) {
  if (workspaces_ != nullptr)
    workspaces_->MarkWorkspaceUsed(entry->job.owner(), entry->job.cube_id());
  Outcome outcome = Execute(entry);
  if (outcome.state != mlcube_remote::v1::JOB_STATE_UNSPECIFIED) {
    // Runtime scratch (Apptainer's unpacked sandboxes) goes with the job.
    (void)RemoveTree(layout_.JobScratchDir(entry->job.id()));
    // Env files may hold secrets; they are not needed once the job is over.
    RemoveNamedBelow(layout_.JobDir(entry->job.id()), StateLayout::kStepPrefix,
                     StateLayout::kEnvSuffix);
    SetState(entry, outcome.state, outcome.exit_code, outcome.reason, "");
  }
  absl::MutexLock lock(&mu_);
  --running_;
  if (--running_by_owner_[entry->job.owner()] <= 0) running_by_owner_.erase(entry->job.owner());
  StartQueuedLocked();
}

bool JobManager::WaitForStep(const std::shared_ptr<Entry>& entry, const std::string& prefix,
                             ContainerRuntime* runtime, const std::string& container_name) {
  // On cancel: stop the container and SIGTERM the step's process group
  // (Apptainer forwards it to the task), then SIGKILL what is left.
  absl::Time first_kill = absl::InfiniteFuture();
  absl::Time last_kill = absl::InfinitePast();
  while (TaskSupervisor::Running(prefix)) {
    if (stopping_) return false;
    const absl::Time now = absl::Now();
    if (CancelRequested(entry) && now - last_kill > absl::Seconds(1)) {
      const bool first = last_kill == absl::InfinitePast();
      if (first) first_kill = now;
      last_kill = now;
      if (first && !container_name.empty()) runtime->StopContainer(container_name);
      auto pgid = TaskSupervisor::ReadProcessGroup(prefix);
      if (pgid.ok()) kill(-*pgid, now - first_kill >= absl::Seconds(3) ? SIGKILL : SIGTERM);
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

JobManager::Outcome JobManager::Execute(const std::shared_ptr<Entry>& entry) {
  Job job;
  SubmitJobRequest request;
  {
    absl::MutexLock lock(&mu_);
    job = entry->job;
    request = entry->request;
  }
  const std::string& id = job.id();
  auto failed = [](int code, std::string reason) {
    return Outcome{mlcube_remote::v1::JOB_STATE_FAILED, code, std::move(reason)};
  };
  auto cancelled = [&](int code) {
    auto who = ReadSmallFile(layout_.JobCancelFile(id));
    std::string by = who.ok() ? std::string(absl::StripAsciiWhitespace(*who)) : "";
    return Outcome{mlcube_remote::v1::JOB_STATE_CANCELLED, code,
                   by.empty() ? "cancelled" : absl::StrCat("cancelled by ", by)};
  };
  if (CancelRequested(entry)) return cancelled(0);

  auto cube = LoadJobCube(job.owner(), request);
  if (!cube.ok()) return failed(0, absl::StrCat("cannot load the cube: ", cube.status().message()));
  auto runtime = MakeRuntime(request.runtime());
  if (!runtime.ok()) return failed(0, std::string(runtime.status().message()));

  StepContext context = JobStepContext(id, job.owner(), request);
  if (absl::Status s = MakeDirs(context.image_dir); !s.ok()) {
    return failed(0, std::string(s.message()));
  }

  // The plan is fixed when the job first starts, so a restarted agent
  // continues the same sequence.
  std::vector<std::string> plan;
  auto plan_text = ReadSmallFile(layout_.JobPlanFile(id));
  if (plan_text.ok()) {
    plan = absl::StrSplit(*plan_text, '\n', absl::SkipEmpty());
  } else {
    if (request.action() == mlcube_remote::v1::JOB_ACTION_CONFIGURE) {
      plan.push_back(kConfigureStep);
    } else {
      SetState(entry, mlcube_remote::v1::JOB_STATE_PREPARING, 0, "", "");
      if ((*runtime)->NeedsConfigure(*cube, context)) plan.push_back(kConfigureStep);
      for (const std::string& task : request.tasks()) plan.push_back(kTaskStepPrefix + task);
    }
    absl::Status s = WriteFileAtomically(layout_.JobPlanFile(id), absl::StrJoin(plan, "\n") + "\n");
    if (!s.ok()) return failed(0, std::string(s.message()));
  }

  int last_exit = 0;
  for (size_t i = 0; i < plan.size(); ++i) {
    if (CancelRequested(entry)) return cancelled(last_exit);
    const std::string& step = plan[i];
    const bool configure = step == kConfigureStep;
    const std::string task = configure ? "" : step.substr(strlen(kTaskStepPrefix));
    const std::string prefix = layout_.JobStepPrefix(id, static_cast<int>(i));
    context.step = static_cast<int>(i);
    context.step_prefix = prefix;
    std::string container_name;
    // A lock file nobody holds, with neither a process group nor an exit
    // status recorded: the agent died inside Launch, before a supervisor
    // existed. Launching again is right (nothing of the step ever ran).
    const bool never_started =
        TaskSupervisor::Launched(prefix) && !TaskSupervisor::Running(prefix) &&
        !TaskSupervisor::ReadExit(prefix).ok() && !TaskSupervisor::ReadProcessGroup(prefix).ok();
    if (!TaskSupervisor::Launched(prefix) || never_started) {
      SetState(
          entry,
          configure ? mlcube_remote::v1::JOB_STATE_PREPARING : mlcube_remote::v1::JOB_STATE_RUNNING,
          0, "", task);
      StepCommand command;
      if (configure) {
        std::string notes;
        auto c = (*runtime)->ConfigureCommand(*cube, context, &notes);
        if (!notes.empty()) AgentLog(id, notes);
        if (!c.ok()) return failed(0, absl::StrCat("cannot configure: ", c.status().message()));
        command = std::move(*c);
      } else {
        // Decided now, not at submit: an earlier task may have made them.
        auto prepared = PrepareTaskStep(*cube, task, **runtime, context);
        if (!prepared.ok()) return failed(0, std::string(prepared.status().message()));
        command = std::move(prepared->command);
      }
      container_name = command.container_name;
      AgentLog(id, absl::StrCat("mlcube-agent: ", configure ? "configure" : "task " + task, ": ",
                                ShellQuoteForLog(command.argv), "\n"));
      SupervisedCommand supervised;
      supervised.argv = command.argv;
      supervised.env = command.env;
      supervised.cwd = command.cwd;
      supervised.log_path = store_.LogPath(id);
      supervised.log_max_bytes = config_.log_max_bytes;
      supervised.step_prefix = prefix;
      absl::Status launched = TaskSupervisor::Launch(self_exe_, supervised);
      if (!launched.ok()) return failed(0, std::string(launched.message()));
    } else if (!configure) {
      container_name = ContainerName(id, static_cast<int>(i));
      SetState(entry, mlcube_remote::v1::JOB_STATE_RUNNING, 0, "", task);
    } else {
      SetState(entry, mlcube_remote::v1::JOB_STATE_PREPARING, 0, "", "");
    }
    if (!WaitForStep(entry, prefix, runtime->get(), container_name)) {
      return Outcome{mlcube_remote::v1::JOB_STATE_UNSPECIFIED, 0, ""};  // agent stopping
    }
    auto exit = TaskSupervisor::ReadExit(prefix);
    if (CancelRequested(entry)) return cancelled(exit.ok() ? exit->ShellCode() : 0);
    if (!exit.ok()) {
      // The supervisor was killed (or the host rebooted): a container it
      // started may still run, with nobody recording its output.
      if (!container_name.empty()) (*runtime)->StopContainer(container_name);
      return failed(0, absl::StrCat(configure ? "image build" : "task " + task,
                                    ": its supervisor died without recording an exit status"));
    }
    last_exit = exit->ShellCode();
    if (configure) {
      if (last_exit != 0) {
        (*runtime)->AbandonConfigure(*cube, context);
        return failed(last_exit, absl::StrCat("configure (image build/pull with ",
                                              (*runtime)->name(), ") failed with exit code ",
                                              last_exit, "; its output is in the job log"));
      }
      absl::Status finished = (*runtime)->FinishConfigure(*cube, context);
      if (!finished.ok()) return failed(0, std::string(finished.message()));
    } else if (last_exit != 0) {
      return failed(last_exit, absl::StrCat("task ", task, " exited with code ", last_exit));
    }
  }
  return Outcome{mlcube_remote::v1::JOB_STATE_SUCCEEDED, 0, ""};
}

}  // namespace mlcube
