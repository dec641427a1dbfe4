#ifndef MLCUBE_REMOTE_CONTROLLER_SWEEPS_HOST_DISPATCHER_H_
#define MLCUBE_REMOTE_CONTROLLER_SWEEPS_HOST_DISPATCHER_H_

// Which host of a sweep takes its next run, and when a host counts as gone.
// Pure bookkeeping (no I/O), so SweepRunner and its tests share it.
//
// A host ("lane") has room when it is alive, holds fewer of the sweep's runs
// than its capacity (0: no limit of its own) and, with `hold_until_started`
// (several hosts), every run it was given has been seen started: a run
// waiting in a host's queue means that host is full, so the next run stays
// on the laptop and goes to whichever host frees a slot first. Work that was
// never sent to a host can then never run twice when a lost host returns.
//
// A host is dropped once its state queries have failed without a single
// answer for at least `drop_after` and at least kDropFailures times in a row.

#include <chrono>
#include <cstddef>
#include <set>
#include <string>
#include <vector>

namespace mlcube {

class HostDispatcher {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kDropFailures = 3;

  HostDispatcher(bool hold_until_started, std::chrono::milliseconds drop_after);

  // Adds a host; returns its lane number (0, 1, ...).
  int Add(std::string name, int capacity);

  // The lane for the next run: the live lane with room and the most free
  // slots (fewest runs on an unlimited one), the first on ties; -1 when
  // none has room. With `ignore_room` (detaching: everything is submitted
  // now) the least loaded live lane, room or not.
  int Pick(bool ignore_room = false) const;

  void Submitted(int lane, size_t run);
  // The run was seen past QUEUED (preparing, running or ended).
  void Started(int lane, size_t run);
  void Ended(int lane, size_t run);

  // A state query of `lane` failed at `now`; true when the lane has now
  // been failing long enough to be dropped (call Drop).
  bool QueryFailed(int lane, Clock::time_point now);
  void QueryAnswered(int lane);
  // Marks the lane gone; returns the runs it held (submitted, not ended).
  std::vector<size_t> Drop(int lane);

  bool alive(int lane) const { return lanes_[lane].alive; }
  bool AnyAlive() const;
  const std::string& name(int lane) const { return lanes_[lane].name; }
  int capacity(int lane) const { return lanes_[lane].capacity; }
  size_t active(int lane) const { return lanes_[lane].runs.size(); }
  size_t size() const { return lanes_.size(); }

  // How many runs a host takes at once, from what its agent says: GPUs on
  // it over GPUs per run when the task asks for GPUs (`gpus_per_run` > 0;
  // a run asking for "all" GPUs takes the whole host), and the agent's
  // per-caller running-jobs limit less the caller's unfinished jobs
  // elsewhere; the smaller of those known, at least 1; 0 when neither is
  // known (the host's queue then tells).
  static int Capacity(int gpus_on_host, int gpus_per_run, int limit_running_jobs,
                      int unfinished_jobs);
  // GPUs one run asks for: --gpus ("" none, "all" or "device=..." the
  // whole host as -1, a count), else platform.accelerator_count.
  static int GpusPerRun(const std::string& gpus_flag, int accelerator_count);

 private:
  struct Lane {
    std::string name;
    int capacity = 0;
    bool alive = true;
    std::set<size_t> runs;       // submitted, not ended
    std::set<size_t> unstarted;  // of those, not yet seen started
    int failures = 0;            // consecutive failed queries
    Clock::time_point first_failure;
  };
  bool HasRoom(const Lane& lane) const;

  bool hold_until_started_;
  std::chrono::milliseconds drop_after_;
  std::vector<Lane> lanes_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SWEEPS_HOST_DISPATCHER_H_
