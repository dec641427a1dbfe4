#ifndef MLCUBE_REMOTE_CONTROLLER_REMOTE_JOB_WATCHER_H_
#define MLCUBE_REMOTE_CONTROLLER_REMOTE_JOB_WATCHER_H_

// Streams a job's output to this terminal: stdout records to our stdout,
// stderr records to our stderr, the agent's own messages through the
// Console. When the connection drops (agent restarted, link cut) it
// reconnects with backoff and resumes from the last offset it printed, so no
// byte is lost or repeated. Ending a watch never ends the job.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "common/job_state_name.h"
#include "controller/remote/rank_filter.h"
#include "controller/terminal/console.h"
#include "controller/terminal/interrupt_monitor.h"
#include "controller/transport/agent_connection.h"
#include "mlcube_remote/v1/jobs.pb.h"

namespace mlcube {

struct WatchOptions {
  int64_t from_offset = 0;
  // Stream until the job ends; otherwise stop at the current end of the log.
  bool follow = true;
  // How long to keep trying to reconnect before giving up.
  std::chrono::seconds reconnect_window{900};
  int stdout_fd = 1;
  int stderr_fd = 2;
  // Of a job of several ranks, only these ranks' lines (RankFilter); empty:
  // every line.
  std::set<int> ranks;
  // Put in front of every line of the task (RankFilter), e.g. "[rank 1] ".
  std::string line_prefix;
  // Held around each write, when several watchers share the terminal.
  std::mutex* write_mutex = nullptr;
};

struct WatchOutcome {
  // True when an interrupt (Ctrl-C) stopped the watch; the job goes on.
  bool interrupted = false;
  // Where a later watch should resume.
  int64_t next_offset = 0;
  // The job as the agent reported it when the watch ended.
  mlcube_remote::v1::Job job;
};

class JobWatcher {
 public:
  // `interrupts` may be null (no Ctrl-C handling).
  JobWatcher(AgentConnection* connection, const Console* console, InterruptMonitor* interrupts);

  absl::StatusOr<WatchOutcome> Watch(const std::string& job_id, const WatchOptions& options);

  // From another thread: ends a Watch soon, as an interrupt would (its
  // outcome says interrupted). The job goes on.
  void Stop();

 private:
  absl::StatusOr<WatchOutcome> WatchStreams(const std::string& job_id, const WatchOptions& options);
  void Print(int stream, int fd, const std::string& data, std::mutex* write_mutex);
  bool Stopped();

  // One WatchJob stream; returns its final status and advances *offset.
  // A final state seen in the stream is stored in *final_state.
  grpc::Status StreamOnce(const std::string& job_id, const WatchOptions& options, int64_t* offset,
                          std::optional<mlcube_remote::v1::StateChange>* final_state);
  absl::StatusOr<mlcube_remote::v1::Job> GetJob(const std::string& job_id);

  AgentConnection* connection_;
  const Console* console_;
  InterruptMonitor* interrupts_;
  // Interrupts counted before this watch began; more means "stop".
  int interrupt_baseline_ = 0;
  RankFilter filter_{{}};
  std::mutex stop_mutex_;
  bool stopped_ = false;                      // guarded by stop_mutex_
  grpc::ClientContext* streaming_ = nullptr;  // guarded by stop_mutex_
};

// True for failures worth reconnecting after (agent gone, link cut).
bool IsTransient(const grpc::Status& status);

// A job's final state as the process exit status of `run` / `logs -f`:
// SUCCEEDED 0, FAILED the task's exit code (1 when it had none, or when
// its low 8 bits are 0), CANCELLED kExitCancelled.
int ExitStatusForJob(const mlcube_remote::v1::Job& job);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_REMOTE_JOB_WATCHER_H_
