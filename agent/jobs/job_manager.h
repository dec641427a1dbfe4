#ifndef MLCUBE_REMOTE_AGENT_JOBS_JOB_MANAGER_H_
#define MLCUBE_REMOTE_AGENT_JOBS_JOB_MANAGER_H_

// Runs jobs: keeps their records, queues them (JobQueue: at most
// max_concurrent_jobs running, at most limits.running_jobs of one identity,
// jobs that ask for GPUs given specific free devices of the host or kept
// queued until they are free), and gives each running job a thread that
// walks the job's plan (configure?, task, task...). Each
// step runs under a TaskSupervisor, detached from the agent, so tasks
// outlive an agent restart; Start() finds unfinished jobs on disk and
// re-attaches to their steps. Jobs belong to the identity that submitted
// them; other identities get NOT_FOUND, as if the job did not exist.

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/access/task_user_resolver.h"
#include "agent/config/agent_config.h"
#include "agent/gpus/gpu_allocator.h"
#include "agent/gpus/gpu_fair_share.h"
#include "agent/gpus/gpu_usage_sampler.h"
#include "agent/jobs/batch_arrays.h"
#include "agent/jobs/cube_jobs.h"
#include "agent/jobs/identity_mutexes.h"
#include "agent/jobs/job_admission.h"
#include "agent/jobs/job_metrics.h"
#include "agent/jobs/job_queue.h"
#include "agent/jobs/job_retention.h"
#include "agent/jobs/job_runner.h"
#include "agent/jobs/job_store.h"
#include "agent/metrics/job_statistics.h"
#include "agent/runtimes/container_runtime.h"
#include "agent/runtimes/runtime_inventory.h"
#include "agent/schedulers/local_scheduler.h"
#include "agent/schedulers/slurm_scheduler.h"
#include "agent/schedulers/slurm_step_scheduler.h"
#include "agent/state/state_layout.h"
#include "common/cube.h"
#include "mlcube_remote/v1/jobs.pb.h"

namespace mlcube {

class JobManager : public CubeJobs {
 public:
  // `self_exe` is the mlcube-agent binary (runs `supervise`). Config,
  // layout, inventory and task_users must outlive the manager; task_users
  // says which uid each identity's tasks run as.
  JobManager(const AgentConfig& config, const StateLayout& layout,
             const RuntimeInventory& inventory, TaskUserResolver* task_users, std::string self_exe);
  ~JobManager();  // Stop() without a time limit

  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  // Stops waiting for steps: each job thread returns at its next check (its
  // task keeps running; a restarted agent re-attaches), no queued job
  // starts. Waits at most `grace` for the job threads; false when some are
  // still busy then (the process should exit without destroying the
  // manager). Idempotent.
  bool Stop(absl::Duration grace);

  // Loads the jobs on disk and resumes the unfinished ones. `workspaces`
  // (not owned, outlives the manager) hears when a job starts working in a
  // cube's workspace, before its first step.
  void Start(WorkspaceUseRecorder* workspaces);

  // Validates the request (cube present, tasks known, paths inside the
  // workspace, runtime installed) and queues a job. A request with a
  // client_request_id seen before returns that earlier job.
  // What Submit would run for `request`, by the same code as Execute with
  // StepContext::dry_run: nothing is started, built, pulled or created. The
  // configure step is listed when a real run would do it.
  absl::StatusOr<mlcube_remote::v1::JobPlan> Plan(
      const std::string& owner, const mlcube_remote::v1::SubmitJobRequest& request);
  absl::StatusOr<mlcube_remote::v1::Job> Submit(const std::string& owner,
                                                const mlcube_remote::v1::SubmitJobRequest& request);
  // The runs of a batch (a sweep), all or nothing: each is checked as Submit
  // checks it and the first refusal, prefixed "runs[I]: ", refuses them all
  // with nothing queued. Accepted runs are ordinary jobs (in request order)
  // sharing a batch id; at most `parallel` of them run at once (0: no cap of
  // the batch's own). On Slurm, single-task runs become one job array
  // submitted when every run has reached its task (or ended before it):
  // Slurm runs them, `parallel` is the array's %P (at most the identity's
  // running_jobs limit), and the agent follows them without taking its job
  // slots. A retried batch (same client_request_id) returns the same jobs.
  absl::StatusOr<std::vector<mlcube_remote::v1::Job>> SubmitBatch(
      const std::string& owner, const mlcube_remote::v1::SubmitJobsRequest& batch);
  // With the tail of the job's metrics file (Job.metrics), read now.
  // `seen`: the metrics tail the caller already has (JobMetrics::Read).
  absl::StatusOr<mlcube_remote::v1::Job> Get(const std::string& owner, const std::string& id,
                                             const MetricsSeen& seen = {});
  // CubeJobs.
  absl::StatusOr<Outputs> OutputsOf(const std::string& owner, const std::string& id) override;
  std::vector<std::string> UnfinishedJobsOf(const std::string& owner,
                                            const std::string& cube_id) override;
  int64_t JobBytesOf(const std::string& owner) override;
  std::vector<mlcube_remote::v1::Job> List(const std::string& owner, bool all,
                                           const std::string& cube_id);
  // Removes the owner's finished jobs past the retention limits
  // (limits.finished_jobs_kept_days, limits.finished_jobs_kept): records,
  // logs, directories. Done at start-up, on submit and on listing.
  void PruneFinished(const std::string& owner);
  // The retention rule of the config's limits.
  JobRetention Retention() const;
  // How many of the owner's finished jobs were removed since the agent
  // started, and the retention rule in words.
  std::pair<int64_t, std::string> PrunedOf(const std::string& owner);
  // The request job `id` of `owner` came from, made ready to submit again:
  // its batch and idempotency key cleared. NOT_FOUND for another owner's
  // job; FAILED_PRECONDITION when it copied variables from the caller's
  // environment that the agent no longer has (restarted since).
  absl::StatusOr<mlcube_remote::v1::SubmitJobRequest> RequestToRerun(const std::string& owner,
                                                                     const std::string& id);
  // Kills the job's container and waits (a few seconds at most) until the
  // job is CANCELLED. Cancelling a finished job changes nothing.
  absl::StatusOr<mlcube_remote::v1::Job> Cancel(const std::string& owner, const std::string& id);

  std::string LogPath(const std::string& id) const { return store_.LogPath(id); }

  bool IsFinal(const std::string& id);

  // Of the host's GPUs (the inventory), how many no job holds now.
  int FreeGpus();
  // How many GPUs the host has (the inventory).
  int TotalGpus() const { return static_cast<int>(inventory_.gpus().size()); }
  // The jobs the agent knows now (kept records included), by state
  // ("queued", "running", "succeeded", ...).
  std::map<std::string, int> CountByState();
  // Before Start: where each job's end is recorded (not owned; outlives
  // the manager). Null: nowhere.
  void set_statistics(JobStatistics* statistics) { statistics_ = statistics; }
  // Adds a sampling round to the usage of the jobs holding the devices.
  void RecordGpuUsage(const std::vector<GpuSample>& samples);

 private:
  struct Entry {
    mlcube_remote::v1::Job job;
    mlcube_remote::v1::SubmitJobRequest request;
    bool cancel_requested = false;
    // The cube's workspace, for reading metrics_path; found on first use.
    std::string metrics_workspace;
  };
  // What the queue needs of `entry`; `gpus`: the devices it needs of the
  // host's GPUs (none on Slurm, or on a host without GPUs: there --gpus goes
  // to the runtime as it was asked).
  static QueuedJob TicketOf(const Entry& entry, GpuRequest gpus);

  // The job's metrics tail (Job.metrics) when it has a metrics_path.
  void AddMetrics(const std::string& owner, const std::shared_ptr<Entry>& entry,
                  const MetricsSeen& seen, mlcube_remote::v1::Job* job);

  // The job `id` when `owner` submitted it, else null (another owner's job
  // is as unknown as a missing one).
  std::shared_ptr<Entry> FindOwnedLocked(const std::string& owner, const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A copy of the request job `id` of `owner` came from; NOT_FOUND "no job ID".
  absl::StatusOr<mlcube_remote::v1::SubmitJobRequest> RequestOf(const std::string& owner,
                                                                const std::string& id);

  // Start(): the jobs read from disk into memory, the unfinished resumed.
  void LoadStored(std::vector<StoredJob> stored);

  // Records a new QUEUED job (its directory, request, log) without queueing
  // it; `batch_id` "" with `batch_index` 0 for the first run of a batch
  // makes the job's own id the batch id. Nothing is left behind on failure.
  absl::StatusOr<std::shared_ptr<Entry>> RecordNewJob(const std::string& owner,
                                                      mlcube_remote::v1::SubmitJobRequest request,
                                                      bool in_batch, const std::string& batch_id,
                                                      int batch_index);
  // RESOURCE_EXHAUSTED, naming limits.queued_jobs and how many of
  // `owner`'s jobs are queued, when `jobs` more would pass that limit. Called
  // under the owner's submit mutex, so the count cannot grow before the jobs
  // are recorded.
  absl::Status CheckQueueRoom(const std::string& owner, size_t jobs);
  // The job array of `entry`'s batch (BatchArrays::Of).
  std::shared_ptr<SlurmArrayBatch> ArrayOf(const std::shared_ptr<Entry>& entry);
  // The batch indices of the array runs of `batch_id` not yet ended.
  std::set<int> UnfinishedArrayRuns(const std::string& batch_id, const std::string& owner);
  // The runs of a batch after the first wait until the first is past its
  // configure step, so a missing image is built once, not once per run.
  // False when the agent is stopping.
  bool WaitForBatchLeader(const std::shared_ptr<Entry>& entry);

  // Starts the queued jobs that may start (JobQueue::StartWhatMay); those
  // left waiting for GPUs say why (reason).
  void StartQueuedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // JobQueue::Starter: the job's thread started, with `devices` recorded on
  // it (none: it needs none or holds its own); false (nothing changed) when
  // the agent stops or no thread can be had.
  bool StartQueuedJobLocked(const QueuedJob& queued, const std::vector<GpuDevice>& devices)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A job found on disk: the devices it needs, and those its record says it
  // holds given back to it (a job re-attached after a restart keeps them).
  GpuRequest RestoreGpusLocked(const Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartGpuSampler();
  // --dry-run: the devices the job would get now, or a note saying what it
  // would wait for.
  absl::Status PlanGpus(const std::string& owner, const Cube& cube,
                        const mlcube_remote::v1::SubmitJobRequest& request, StepContext* context,
                        mlcube_remote::v1::JobPlan* plan);
  // Starts RunJob in a new thread; false (and nothing changed) when the
  // system has no thread to give.
  bool SpawnJobThreadLocked(const std::shared_ptr<Entry>& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunJob(std::shared_ptr<Entry> entry);
  class EntryControl;
  // Loads the job's cube and runtime and runs its steps (JobRunner).
  JobOutcome Execute(const std::shared_ptr<Entry>& entry);
  // One record in the agent's log for a job's change of state or task.
  static void LogTransition(const mlcube_remote::v1::Job& before,
                            const mlcube_remote::v1::Job& after);
  void SetState(const std::shared_ptr<Entry>& entry, mlcube_remote::v1::JobState state,
                int exit_code, const std::string& reason, const std::string& current_task);
  mlcube_remote::v1::Job Snapshot(const Entry& entry) const;
  // The StepScheduler of a job with scheduler: slurm.
  absl::StatusOr<std::unique_ptr<SlurmStepScheduler>> MakeSlurmScheduler(
      const std::shared_ptr<Entry>& entry, const std::string& job_id,
      const mlcube_remote::v1::SubmitJobRequest& request);
  // The current step's Slurm job id and pending reason ("" once running).
  void SetSchedulerInfo(const std::shared_ptr<Entry>& entry, const std::string& scheduler_job_id,
                        const std::string& pending_reason);
  bool CancelRequested(const std::shared_ptr<Entry>& entry);
  // Tells statistics_ (if any) how a job ended.
  void RecordFinished(const mlcube_remote::v1::Job& job,
                      const mlcube_remote::v1::SubmitJobRequest& request) const;

  const AgentConfig& config_;
  const StateLayout& layout_;
  const RuntimeInventory& inventory_;
  const std::string self_exe_;
  JobStore store_;
  LocalScheduler local_scheduler_;
  // Shared by every Slurm job: one squeue per poll for all of them.
  SlurmScheduler slurm_scheduler_;
  // Whether a request may become a job here; the cube and runtime of a job.
  const JobAdmission admission_;
  WorkspaceUseRecorder* workspaces_ = nullptr;
  std::atomic<bool> stopping_{false};

  // One Submit at a time per identity (its idempotency keys stay exact);
  // one identity's slow submit never holds back another's.
  IdentityMutexes submit_mutexes_;
  // One step of an identity at a time is checked and started while its
  // other containers are frozen (ContainerRuntime::FreezeTasksOf).
  IdentityMutexes step_start_mutexes_;
  absl::Mutex mu_;
  JobStatistics* statistics_ = nullptr;
  std::map<std::string, std::shared_ptr<Entry>> jobs_ ABSL_GUARDED_BY(mu_);
  // owner + "\n" + client_request_id -> job id
  std::map<std::string, std::string> request_ids_ ABSL_GUARDED_BY(mu_);
  GpuAllocator gpus_ ABSL_GUARDED_BY(mu_);
  // Every job thread alive is started_ there, until its job ends.
  JobQueue queue_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> pruned_by_owner_ ABSL_GUARDED_BY(mu_);
  BatchArrays arrays_;
  // Samples the devices jobs hold (made by Start on a host with GPUs).
  // Last member: its thread stops before anything it calls is destroyed.
  std::unique_ptr<GpuUsageSampler> gpu_sampler_;
};

bool IsFinalState(mlcube_remote::v1::JobState state);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_JOBS_JOB_MANAGER_H_
