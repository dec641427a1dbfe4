#include "controller/terminal/interrupt_monitor.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdint>

#include "absl/time/time.h"

namespace mlcube {
namespace {

sigset_t InterruptSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

InterruptMonitor::InterruptMonitor() {
  const sigset_t signals = InterruptSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal_fd_ = ::signalfd(-1, &signals, SFD_CLOEXEC);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  thread_ = std::thread([this] { Loop(); });
}

InterruptMonitor::~InterruptMonitor() {
  const uint64_t one = 1;
  // Discarded on purpose: a full eventfd has woken the thread already.
  if (stop_fd_ >= 0) (void)!::write(stop_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  if (signal_fd_ >= 0) ::close(signal_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
  const sigset_t signals = InterruptSignals();
  pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
}

void InterruptMonitor::SetCallback(std::function<void(int)> callback) {
  absl::MutexLock lock(&mutex_);
  callback_ = std::move(callback);
  // The old callback may be running on the monitor's thread with what it
  // captured about to go away (a ClientContext on the caller's stack): wait
  // for it, unless this is that callback replacing itself.
  if (std::this_thread::get_id() != thread_.get_id()) {
    mutex_.Await(absl::Condition(
        +[](int* running) { return *running == 0; }, &callbacks_running_));
  }
}

bool InterruptMonitor::WaitForMore(int seen, std::chrono::milliseconds timeout) {
  auto more = [this, seen] { return count_.load() > seen; };
  absl::MutexLock lock(&mutex_);
  return mutex_.AwaitWithTimeout(absl::Condition(&more), absl::FromChrono(timeout));
}

void InterruptMonitor::Loop() {
  if (signal_fd_ < 0 || stop_fd_ < 0) return;
  for (;;) {
    pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents & POLLIN) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    signalfd_siginfo info;
    if (::read(signal_fd_, &info, sizeof(info)) != sizeof(info)) continue;
    std::function<void(int)> callback;
    int now = 0;
    {
      absl::MutexLock lock(&mutex_);
      now = ++count_;
      callback = callback_;
      if (callback) ++callbacks_running_;
    }
    if (callback) {
      callback(now);
      absl::MutexLock lock(&mutex_);
      --callbacks_running_;
    }
  }
}

}  // namespace mlcube
