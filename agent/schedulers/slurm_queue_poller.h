#ifndef MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_QUEUE_POLLER_H_
#define MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_QUEUE_POLLER_H_

// One thread that asks Slurm about all the Slurm jobs the agent follows in
// one squeue call per poll (never one call per job), so a hundred running
// jobs cost the controller what one does. The interval starts at
// `min_interval` and doubles while nothing changes, up to `max_interval`;
// a change, a new job or Kick() brings it back to the minimum. squeue
// failures (controller busy or restarting) are retried with the same
// back-off; the last known states stay in place meanwhile.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/schedulers/slurm_client.h"

namespace mlcube {

class SlurmQueuePoller {
 public:
  // `client` must outlive the poller.
  SlurmQueuePoller(const SlurmClient* client, absl::Duration min_interval,
                   absl::Duration max_interval);
  ~SlurmQueuePoller();
  SlurmQueuePoller(const SlurmQueuePoller&) = delete;
  SlurmQueuePoller& operator=(const SlurmQueuePoller&) = delete;

  void Watch(const std::string& id);
  void Unwatch(const std::string& id);
  // Polls as soon as possible (a step's exit file appeared, a cancel went out).
  void Kick();

  struct Snapshot {
    int64_t generation = 0;  // number of successful polls so far; 0: none yet
    bool known = false;      // false: Slurm no longer (or not yet) knows the job
    SlurmJobInfo info;
  };
  // The state from the latest poll that included `id`.
  Snapshot Get(const std::string& id);

  // Waits (up to `timeout`) for a poll that started after this call.
  Snapshot GetFresh(const std::string& id, absl::Duration timeout);

  int64_t polls() const;

 private:
  void Loop();
  bool PollOnce();  // true when something changed

  const SlurmClient* client_;
  const absl::Duration min_interval_;
  const absl::Duration max_interval_;
  mutable absl::Mutex mu_;
  std::set<std::string> watched_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, SlurmJobInfo> latest_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> seen_at_ ABSL_GUARDED_BY(mu_);  // id -> generation it was in
  int64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t started_ ABSL_GUARDED_BY(mu_) = 0;  // polls begun
  bool kicked_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_QUEUE_POLLER_H_
