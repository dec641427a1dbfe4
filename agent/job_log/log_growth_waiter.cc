#include "agent/job_log/log_growth_waiter.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "absl/time/clock.h"

namespace mlcube {

LogGrowthWaiter::LogGrowthWaiter(const std::string& log_path) {
  inotify_fd_ = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (inotify_fd_ >= 0) inotify_add_watch(inotify_fd_, log_path.c_str(), IN_MODIFY);
}

LogGrowthWaiter::~LogGrowthWaiter() {
  if (inotify_fd_ >= 0) close(inotify_fd_);
}

void LogGrowthWaiter::Wait(absl::Time last_send) {
  if (inotify_fd_ < 0) {
    usleep(5000);
    return;
  }
  pollfd pfd{inotify_fd_, POLLIN, 0};
  if (poll(&pfd, 1, 250) > 0) {
    if (absl::Now() - last_send < absl::Milliseconds(2)) usleep(5000);
    char buf[4096];
    while (read(inotify_fd_, buf, sizeof(buf)) > 0) {
    }
  }
}

}  // namespace mlcube
