#ifndef MLCUBE_REMOTE_CONTROLLER_TERMINAL_PROGRESS_REPORTER_H_
#define MLCUBE_REMOTE_CONTROLLER_TERMINAL_PROGRESS_REPORTER_H_

// Shows transfer progress: on a terminal a bar redrawn in place (files,
// bytes, rate, ETA), otherwise a plain line every few seconds. Counters are
// atomic so upload threads report without locks; drawing happens on the
// reporter's own thread, which Stop() ends.

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace mlcube {

class ProgressReporter {
 public:
  // `out` is not owned; `interactive` selects the redrawn bar.
  ProgressReporter(FILE* out, bool interactive, std::string label, int64_t total_files,
                   int64_t total_bytes);
  ~ProgressReporter();
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  void AddFiles(int64_t files) { files_ += files; }
  void AddBytes(int64_t bytes) { bytes_ += bytes; }
  int64_t files() const { return files_; }
  int64_t bytes() const { return bytes_; }

  void Start();
  // Stops drawing and clears the bar; idempotent.
  void Stop();

  // "1.5 MiB", "632.0 MiB".
  static std::string HumanBytes(int64_t bytes);
  // One progress line (exposed for tests).
  static std::string Line(const std::string& label, int64_t files, int64_t total_files,
                          int64_t bytes, int64_t total_bytes, double seconds, bool bar);

 private:
  void Run();

  FILE* out_;
  bool interactive_;
  std::string label_;
  int64_t total_files_;
  int64_t total_bytes_;
  std::atomic<int64_t> files_{0};
  std::atomic<int64_t> bytes_{0};
  absl::Mutex mu_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_TERMINAL_PROGRESS_REPORTER_H_
