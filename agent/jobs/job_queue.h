#ifndef MLCUBE_REMOTE_AGENT_JOBS_JOB_QUEUE_H_
#define MLCUBE_REMOTE_AGENT_JOBS_JOB_QUEUE_H_

// Which queued jobs may start now, and the slots and GPUs started jobs hold.
//
// Jobs start first come, first served, at most `running` of them at once;
// a job whose identity is at its own limit (`running_per_identity`) or whose
// batch is at its own cap (QueuedJob::batch_parallel) is skipped, so one
// identity's long queue never holds back another's jobs. Elements of a Slurm
// job array start at once and take no slot: Slurm runs them and its %P caps
// them. A job that needs devices of the host's GPUs also waits for them: the
// identity holding the fewest devices is served first (NextJobForGpus), and
// when that job's devices are not free no later job takes them, so a job
// asking for many is never starved by jobs asking for few.
//
// Knows jobs by id only; starting one is the caller's (Starter). Not
// thread-safe: the job manager calls it under its own lock.

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "agent/gpus/gpu_allocator.h"
#include "agent/gpus/gpu_request.h"

namespace mlcube {

// What the queue needs to know of a job.
struct QueuedJob {
  std::string id;
  std::string owner;
  std::string batch_id;        // "" outside a batch
  int batch_parallel = 0;      // the batch's own cap on running runs; 0: none
  bool array_element = false;  // Slurm runs it: takes no slot
  GpuRequest gpus;             // devices it needs of the host's GPUs; empty: none
  bool holds_gpus = false;     // re-attached with the devices its record names
};

class JobQueue {
 public:
  struct Limits {
    int running = 1;               // the agent's max_concurrent_jobs
    int running_per_identity = 0;  // limits.running_jobs; 0: no limit
  };
  // Starts `job`, which got `devices` now (none when it needs none or holds
  // its own). False when it could not be started (no thread to give): the
  // job stays queued, the devices are free again, and nothing more starts
  // until the next StartWhatMay.
  using Starter = std::function<bool(const QueuedJob& job, const std::vector<GpuDevice>& devices)>;

  // `gpus` (not owned) outlives the queue; held devices are given back to
  // it when their job ends.
  JobQueue(Limits limits, GpuAllocator* gpus) : limits_(limits), gpus_(gpus) {}

  // At the back of the queue.
  void Push(QueuedJob job);
  // Takes a queued job out (it was cancelled): devices it held are free
  // again. False when it is not queued.
  bool Remove(const std::string& id);
  // Starts, in queue order, every job that may start now (header comment).
  void StartWhatMay(const Starter& start);
  // A job that runs without waiting its turn (re-attached after a restart)
  // takes its slot now, over the limits.
  void TakeSlot(const QueuedJob& job);
  // A started job has ended: its slot and devices are free again.
  void Finished(const std::string& id);

  // Jobs started and not finished, array elements included.
  int started() const { return static_cast<int>(started_.size()); }
  // Of the queued jobs still waiting for GPUs, why (GpuAllocator::WaitReason),
  // by job id.
  std::map<std::string, std::string> GpuWaitReasons() const;

 private:
  bool WaitsForGpus(const QueuedJob& job) const { return !job.gpus.empty() && !job.holds_gpus; }
  bool MayStart(const QueuedJob& job);
  void Record(const QueuedJob& job);
  // The GPU jobs of the queue that may start, served by fair share.
  void StartGpuJobs(const Starter& start);

  const Limits limits_;
  GpuAllocator* gpus_;
  std::deque<QueuedJob> queue_;
  std::map<std::string, QueuedJob> started_;  // by id
  int running_ = 0;                           // started_ less the array elements
  std::map<std::string, int> running_by_owner_;
  std::map<std::string, int> running_by_batch_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_JOBS_JOB_QUEUE_H_
