#include "agent/jobs/job_queue.h"

#include <optional>
#include <utility>

#include "agent/gpus/gpu_fair_share.h"

namespace mlcube {

void JobQueue::Push(QueuedJob job) { queue_.push_back(std::move(job)); }

bool JobQueue::Remove(const std::string& id) {
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->id != id) continue;
    queue_.erase(it);
    gpus_->Release(id);  // a re-attached job may hold some while queued
    return true;
  }
  return false;
}

bool JobQueue::MayStart(const QueuedJob& job) {
  if (job.array_element) return true;
  if (running_ >= limits_.running) return false;
  const int per_identity = limits_.running_per_identity;
  if (per_identity > 0 && running_by_owner_[job.owner] >= per_identity) return false;
  return job.batch_parallel <= 0 || running_by_batch_[job.batch_id] < job.batch_parallel;
}

void JobQueue::Record(const QueuedJob& job) {
  started_[job.id] = job;
  if (job.array_element) return;
  ++running_;
  ++running_by_owner_[job.owner];
  if (!job.batch_id.empty()) ++running_by_batch_[job.batch_id];
}

void JobQueue::TakeSlot(const QueuedJob& job) { Record(job); }

void JobQueue::StartWhatMay(const Starter& start) {
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (WaitsForGpus(*it) || !MayStart(*it)) {
      ++it;
      continue;
    }
    if (!start(*it, {})) return;  // retried at the next call
    Record(*it);
    it = queue_.erase(it);
  }
  StartGpuJobs(start);
}

void JobQueue::StartGpuJobs(const Starter& start) {
  for (;;) {
    std::vector<std::deque<QueuedJob>::iterator> waiting;
    std::vector<std::string> owners;
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (!WaitsForGpus(*it) || !MayStart(*it)) continue;
      waiting.push_back(it);
      owners.push_back(it->owner);
    }
    const int chosen = NextJobForGpus(owners, *gpus_);
    if (chosen < 0) return;
    const auto next = waiting[chosen];
    std::optional<std::vector<GpuDevice>> devices =
        gpus_->Allocate(next->id, next->owner, next->gpus);
    if (!devices.has_value()) return;
    if (!start(*next, *devices)) {
      gpus_->Release(next->id);
      return;
    }
    Record(*next);
    queue_.erase(next);
  }
}

void JobQueue::Finished(const std::string& id) {
  gpus_->Release(id);
  auto it = started_.find(id);
  if (it == started_.end()) return;
  const QueuedJob job = std::move(it->second);
  started_.erase(it);
  if (job.array_element) return;
  --running_;
  if (--running_by_owner_[job.owner] <= 0) running_by_owner_.erase(job.owner);
  if (!job.batch_id.empty() && --running_by_batch_[job.batch_id] <= 0) {
    running_by_batch_.erase(job.batch_id);
  }
}

std::map<std::string, std::string> JobQueue::GpuWaitReasons() const {
  std::map<std::string, std::string> reasons;
  for (const QueuedJob& job : queue_) {
    if (WaitsForGpus(job)) reasons[job.id] = gpus_->WaitReason(job.owner, job.gpus);
  }
  return reasons;
}

}  // namespace mlcube
