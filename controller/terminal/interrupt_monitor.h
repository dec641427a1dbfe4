#ifndef MLCUBE_REMOTE_CONTROLLER_TERMINAL_INTERRUPT_MONITOR_H_
#define MLCUBE_REMOTE_CONTROLLER_TERMINAL_INTERRUPT_MONITOR_H_

// Turns Ctrl-C (SIGINT) and SIGTERM into calls on a thread of our own, so a
// command can cancel an RPC and decide between detaching and cancelling the
// job without touching global state from a signal handler. Create it before
// any other thread exists (before opening a gRPC channel): the signals are
// blocked in the creating thread and every thread started after it.

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace mlcube {

class InterruptMonitor {
 public:
  InterruptMonitor();
  ~InterruptMonitor();
  InterruptMonitor(const InterruptMonitor&) = delete;
  InterruptMonitor& operator=(const InterruptMonitor&) = delete;

  // Called on the monitor's thread at each interrupt with the count so far.
  // Replaces the previous callback; pass nullptr to clear. Returns once no
  // call of the previous callback is running (so what it captured may go).
  void SetCallback(std::function<void(int)> callback);

  int count() const { return count_.load(); }

  // Waits until the count exceeds `seen` or `timeout` passes; true if it did.
  bool WaitForMore(int seen, std::chrono::milliseconds timeout);

 private:
  void Loop();

  int signal_fd_ = -1;
  int stop_fd_ = -1;
  std::atomic<int> count_{0};
  absl::Mutex mutex_;
  std::function<void(int)> callback_;
  int callbacks_running_ = 0;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_TERMINAL_INTERRUPT_MONITOR_H_
