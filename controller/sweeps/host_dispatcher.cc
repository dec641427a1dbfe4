#include "controller/sweeps/host_dispatcher.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"

namespace mlcube {

HostDispatcher::HostDispatcher(bool hold_until_started, std::chrono::milliseconds drop_after)
    : hold_until_started_(hold_until_started), drop_after_(drop_after) {}

int HostDispatcher::Add(std::string name, int capacity) {
  Lane lane;
  lane.name = std::move(name);
  lane.capacity = std::max(0, capacity);
  lanes_.push_back(std::move(lane));
  return static_cast<int>(lanes_.size()) - 1;
}

bool HostDispatcher::HasRoom(const Lane& lane) const {
  if (!lane.alive) return false;
  if (lane.capacity > 0 && lane.runs.size() >= static_cast<size_t>(lane.capacity)) return false;
  return !hold_until_started_ || lane.unstarted.empty();
}

int HostDispatcher::Pick(bool ignore_room) const {
  int best = -1;
  // Free slots, higher first; an unlimited lane counts as one free slot
  // less per run it holds. Load (runs per slot) for ignore_room.
  double best_score = 0;
  for (size_t i = 0; i < lanes_.size(); ++i) {
    const Lane& lane = lanes_[i];
    if (!lane.alive || (!ignore_room && !HasRoom(lane))) continue;
    const double runs = static_cast<double>(lane.runs.size());
    const double score = ignore_room         ? -runs / std::max(1, lane.capacity)
                         : lane.capacity > 0 ? lane.capacity - runs
                                             : 1.0 - runs;
    if (best < 0 || score > best_score) {
      best = static_cast<int>(i);
      best_score = score;
    }
  }
  return best;
}

void HostDispatcher::Submitted(int lane, size_t run) {
  lanes_[lane].runs.insert(run);
  lanes_[lane].unstarted.insert(run);
}

void HostDispatcher::Started(int lane, size_t run) { lanes_[lane].unstarted.erase(run); }

void HostDispatcher::Ended(int lane, size_t run) {
  lanes_[lane].runs.erase(run);
  lanes_[lane].unstarted.erase(run);
}

bool HostDispatcher::QueryFailed(int lane, Clock::time_point now) {
  Lane& entry = lanes_[lane];
  if (entry.failures++ == 0) entry.first_failure = now;
  return entry.alive && entry.failures >= kDropFailures && now - entry.first_failure >= drop_after_;
}

void HostDispatcher::QueryAnswered(int lane) { lanes_[lane].failures = 0; }

std::vector<size_t> HostDispatcher::Drop(int lane) {
  Lane& entry = lanes_[lane];
  entry.alive = false;
  std::vector<size_t> held(entry.runs.begin(), entry.runs.end());
  entry.runs.clear();
  entry.unstarted.clear();
  return held;
}

bool HostDispatcher::AnyAlive() const {
  return std::any_of(lanes_.begin(), lanes_.end(), [](const Lane& lane) { return lane.alive; });
}

int HostDispatcher::Capacity(int gpus_on_host, int gpus_per_run, int limit_running_jobs,
                             int unfinished_jobs) {
  int capacity = 0;
  if (gpus_per_run != 0 && gpus_on_host > 0) {
    capacity = gpus_per_run < 0 ? 1 : std::max(1, gpus_on_host / gpus_per_run);
  }
  if (limit_running_jobs > 0) {
    const int free_slots = std::max(1, limit_running_jobs - std::max(0, unfinished_jobs));
    capacity = capacity > 0 ? std::min(capacity, free_slots) : free_slots;
  }
  return capacity;
}

int HostDispatcher::GpusPerRun(const std::string& gpus_flag, int accelerator_count) {
  if (gpus_flag.empty()) return std::max(0, accelerator_count);
  int count = 0;
  if (absl::SimpleAtoi(gpus_flag, &count) && count >= 0) return count;
  // "all" or "device=0,1": those devices; two runs cannot share them.
  return -1;
}

}  // namespace mlcube
