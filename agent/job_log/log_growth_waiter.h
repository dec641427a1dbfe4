#ifndef MLCUBE_REMOTE_AGENT_JOB_LOG_LOG_GROWTH_WAITER_H_
#define MLCUBE_REMOTE_AGENT_JOB_LOG_LOG_GROWTH_WAITER_H_

// Waits for a job log to grow, for a follower of it: inotify events of the
// file (IN_MODIFY) wake it as soon as the supervisor appends; where inotify
// is not available it sleeps 5 ms instead. Not thread-safe: one follower.

#include <string>

#include "absl/time/time.h"

namespace mlcube {

class LogGrowthWaiter {
 public:
  explicit LogGrowthWaiter(const std::string& log_path);
  ~LogGrowthWaiter();
  LogGrowthWaiter(const LogGrowthWaiter&) = delete;
  LogGrowthWaiter& operator=(const LogGrowthWaiter&) = delete;

  // Returns when the log changed, or after at most 250 ms. Under a flood of
  // output (the follower sent output moments ago, at `last_send`, and there
  // is more) it lets 5 ms more accumulate, so events are large: a few big
  // messages cost far less than many small ones. An isolated line is not
  // delayed.
  void Wait(absl::Time last_send);

 private:
  int inotify_fd_ = -1;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_JOB_LOG_LOG_GROWTH_WAITER_H_
