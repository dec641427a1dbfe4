#include "controller/gang/gang_follower.h"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/job_state_name.h"
#include "controller/remote/job_watcher.h"
#include "controller/terminal/exit_codes.h"

namespace mlcube {
namespace {

using mlcube_remote::v1::Job;

bool Failed(const Job& job) {
  return job.state() == mlcube_remote::v1::JOB_STATE_FAILED ||
         job.state() == mlcube_remote::v1::JOB_STATE_CANCELLED;
}

WatchOptions RankWatch(size_t rank, const std::set<int>& ranks, bool follow, std::mutex* writes) {
  WatchOptions options;
  options.follow = follow;
  options.ranks = ranks;
  options.line_prefix = absl::StrCat("[rank ", rank, "] ");
  options.write_mutex = writes;
  return options;
}

// One rank followed on a thread of its own.
struct Lane {
  Lane(AgentConnection* agent, const Console* console) : watcher(agent, console, nullptr) {}
  JobWatcher watcher;
  std::thread thread;
  absl::StatusOr<WatchOutcome> outcome = absl::UnknownError("not finished");
  bool done = false;     // guarded by the follower's mutex
  bool handled = false;  // by the main loop
};

class LiveFollower {
 public:
  LiveFollower(const std::vector<GangMember>& members, const std::set<int>& ranks,
               InterruptMonitor* interrupts, const Console& console)
      : members_(members), ranks_(ranks), interrupts_(interrupts), console_(console) {}

  absl::StatusOr<GangOutcome> Run() {
    for (size_t rank = 0; rank < members_.size(); ++rank) {
      lanes_.push_back(std::make_unique<Lane>(members_[rank].agent, &console_));
    }
    for (size_t rank = 0; rank < members_.size(); ++rank) {
      lanes_[rank]->thread = std::thread([this, rank] { Follow(rank); });
    }
    const int interrupts_before = interrupts_ != nullptr ? interrupts_->count() : 0;
    GangOutcome outcome;
    for (size_t finished = 0; finished < lanes_.size();) {
      std::vector<size_t> newly_done = WaitForLanes();
      finished += newly_done.size();
      for (size_t rank : newly_done) OnRankEnded(rank, &outcome);
      if (!outcome.interrupted && interrupts_ != nullptr &&
          interrupts_->count() > interrupts_before) {
        outcome.interrupted = true;
        for (auto& lane : lanes_) lane->watcher.Stop();
      }
    }
    for (auto& lane : lanes_) lane->thread.join();
    for (auto& lane : lanes_) {
      if (!lane->outcome.ok()) return lane->outcome.status();
      outcome.jobs.push_back(lane->outcome->job);
    }
    return outcome;
  }

 private:
  void Follow(size_t rank) {
    absl::StatusOr<WatchOutcome> outcome = lanes_[rank]->watcher.Watch(
        members_[rank].job_id, RankWatch(rank, ranks_, /*follow=*/true, &writes_));
    {
      std::lock_guard<std::mutex> lock(mu_);
      lanes_[rank]->outcome = std::move(outcome);
      lanes_[rank]->done = true;
    }
    changed_.notify_all();
  }

  // The ranks that ended since the last call (waits up to 200 ms for one).
  std::vector<size_t> WaitForLanes() {
    std::unique_lock<std::mutex> lock(mu_);
    auto ended = [this] {
      for (const auto& lane : lanes_) {
        if (lane->done && !lane->handled) return true;
      }
      return false;
    };
    changed_.wait_for(lock, std::chrono::milliseconds(200), ended);
    std::vector<size_t> newly;
    for (size_t rank = 0; rank < lanes_.size(); ++rank) {
      if (lanes_[rank]->done && !lanes_[rank]->handled) {
        lanes_[rank]->handled = true;
        newly.push_back(rank);
      }
    }
    return newly;
  }

  // The first rank to fail ends the job: the others are cancelled. A rank
  // that cannot be followed (its agent gone past the reconnect window)
  // stops following the others: the error is the outcome.
  void OnRankEnded(size_t rank, GangOutcome* outcome) {
    const absl::StatusOr<WatchOutcome>& ended = lanes_[rank]->outcome;
    if (!ended.ok()) {
      for (auto& lane : lanes_) lane->watcher.Stop();
      return;
    }
    if (outcome->interrupted || outcome->failed_rank >= 0 || ended->interrupted ||
        !Failed(ended->job)) {
      return;
    }
    outcome->failed_rank = static_cast<int>(rank);
    const Job& job = ended->job;
    console_.Info(absl::StrCat("rank ", rank, " on ", members_[rank].request.host_name, " ",
                               JobStateName(job.state()),
                               job.state() == mlcube_remote::v1::JOB_STATE_FAILED
                                   ? absl::StrCat(" (exit code ", job.exit_code(), ")")
                                   : "",
                               ": cancelling the other ranks"));
    CancelGang(members_, static_cast<int>(rank), console_);
  }

  const std::vector<GangMember>& members_;
  const std::set<int>& ranks_;
  InterruptMonitor* interrupts_;
  const Console& console_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::mutex writes_;
  std::mutex mu_;
  std::condition_variable changed_;
};

absl::StatusOr<GangOutcome> PrintSoFar(const std::vector<GangMember>& members,
                                       const std::set<int>& ranks, const Console& console) {
  GangOutcome outcome;
  for (size_t rank = 0; rank < members.size(); ++rank) {
    JobWatcher watcher(members[rank].agent, &console, nullptr);
    absl::StatusOr<WatchOutcome> watched =
        watcher.Watch(members[rank].job_id, RankWatch(rank, ranks, /*follow=*/false, nullptr));
    if (!watched.ok()) return watched.status();
    outcome.jobs.push_back(watched->job);
    if (outcome.failed_rank < 0 && Failed(watched->job)) {
      outcome.failed_rank = static_cast<int>(rank);
    }
  }
  return outcome;
}

}  // namespace

absl::StatusOr<GangOutcome> FollowGang(const std::vector<GangMember>& members,
                                       const std::set<int>& ranks, bool follow,
                                       InterruptMonitor* interrupts, const Console& console) {
  if (!follow) return PrintSoFar(members, ranks, console);
  return LiveFollower(members, ranks, interrupts, console).Run();
}

int GangExitStatus(const GangOutcome& outcome) {
  if (outcome.failed_rank >= 0) return ExitStatusForJob(outcome.jobs[outcome.failed_rank]);
  for (const Job& job : outcome.jobs) {
    if (ExitStatusForJob(job) != kExitOk) return ExitStatusForJob(job);
  }
  return kExitOk;
}

}  // namespace mlcube
