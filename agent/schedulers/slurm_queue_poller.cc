#include "agent/schedulers/slurm_queue_poller.h"

#include <algorithm>
#include <vector>

namespace mlcube {

SlurmQueuePoller::SlurmQueuePoller(const SlurmClient* client, absl::Duration min_interval,
                                   absl::Duration max_interval)
    : client_(client), min_interval_(min_interval), max_interval_(max_interval) {
  thread_ = std::thread([this] { Loop(); });
}

SlurmQueuePoller::~SlurmQueuePoller() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void SlurmQueuePoller::Watch(const std::string& id) {
  absl::MutexLock lock(&mu_);
  watched_.insert(id);
  kicked_ = true;
}

void SlurmQueuePoller::Unwatch(const std::string& id) {
  absl::MutexLock lock(&mu_);
  watched_.erase(id);
  latest_.erase(id);
  seen_at_.erase(id);
}

void SlurmQueuePoller::Kick() {
  absl::MutexLock lock(&mu_);
  kicked_ = true;
}

int64_t SlurmQueuePoller::polls() const {
  absl::MutexLock lock(&mu_);
  return generation_;
}

SlurmQueuePoller::Snapshot SlurmQueuePoller::Get(const std::string& id) {
  absl::MutexLock lock(&mu_);
  Snapshot s;
  s.generation = generation_;
  auto it = latest_.find(id);
  auto seen = seen_at_.find(id);
  s.known = it != latest_.end() && seen != seen_at_.end() && seen->second == generation_;
  if (it != latest_.end()) s.info = it->second;
  return s;
}

SlurmQueuePoller::Snapshot SlurmQueuePoller::GetFresh(const std::string& id,
                                                      absl::Duration timeout) {
  {
    absl::MutexLock lock(&mu_);
    const int64_t wanted = started_ + 1;
    kicked_ = true;
    struct Args {
      SlurmQueuePoller* self;
      int64_t wanted;
    } args{this, wanted};
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](Args* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                               return a->self->generation_ >= a->wanted || a->self->stopping_;
                             },
                             &args),
                         timeout);
  }
  return Get(id);
}

bool SlurmQueuePoller::PollOnce() {
  std::vector<std::string> ids;
  {
    absl::MutexLock lock(&mu_);
    ids.assign(watched_.begin(), watched_.end());
    ++started_;
    kicked_ = false;
  }
  auto result = client_->Query(ids);
  absl::MutexLock lock(&mu_);
  if (!result.ok()) {
    // Try again later; `started_` moved on, so GetFresh callers wait for
    // the next successful poll (bounded by their timeout).
    return false;
  }
  bool changed = false;
  ++generation_;
  for (const std::string& id : ids) {
    if (!watched_.count(id)) continue;  // unwatched while we asked
    auto found = result->find(id);
    if (found == result->end()) {
      changed = changed || latest_.count(id) > 0;
      continue;
    }
    auto& slot = latest_[id];
    changed = changed || slot.state != found->second.state || slot.reason != found->second.reason;
    slot = found->second;
    seen_at_[id] = generation_;
  }
  return changed;
}

void SlurmQueuePoller::Loop() {
  absl::Duration interval = min_interval_;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto wake = +[](SlurmQueuePoller* p)
                       ABSL_NO_THREAD_SAFETY_ANALYSIS { return p->stopping_ || p->kicked_; };
      if (watched_.empty()) {
        mu_.Await(absl::Condition(wake, this));
      } else {
        mu_.AwaitWithTimeout(absl::Condition(wake, this), interval);
      }
      if (stopping_) return;
      if (kicked_) interval = min_interval_;
    }
    const bool changed = PollOnce();
    interval = changed ? min_interval_ : std::min(interval * 2, max_interval_);
  }
}

}  // namespace mlcube
