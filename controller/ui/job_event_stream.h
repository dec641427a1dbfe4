#ifndef MLCUBE_REMOTE_CONTROLLER_UI_JOB_EVENT_STREAM_H_
#define MLCUBE_REMOTE_CONTROLLER_UI_JOB_EVENT_STREAM_H_

// One job's log and state changes as server-sent events, for one open job
// page. A thread follows the agent's WatchJob stream from a byte offset and
// queues each event as SSE text whose `id:` is the offset just past it: a
// browser that loses the connection reconnects with Last-Event-ID and
// resumes there, so no byte is lost or repeated. After the job's end the
// stream sends `event: end` and stops; when the agent goes away it stops
// without it (the browser reconnects). At most kMaxQueued events wait for a
// slow browser; the agent's stream then waits too. Destroying the stream
// cancels the RPC and joins the thread.

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "controller/transport/agent_connection.h"

namespace mlcube {

class JobEventStream {
 public:
  static constexpr size_t kMaxQueued = 64;

  // `stopping` (the server's, outliving the stream) ends every wait early.
  JobEventStream(std::shared_ptr<AgentConnection> agent, std::string job_id, int64_t from_offset,
                 const std::atomic<bool>* stopping);
  ~JobEventStream();
  JobEventStream(const JobEventStream&) = delete;
  JobEventStream& operator=(const JobEventStream&) = delete;

  // The next SSE text to send: queued events, or a keep-alive comment when
  // none came for `idle`; nothing when the stream is over or the server
  // stops.
  std::optional<std::string> Next(std::chrono::milliseconds idle);

 private:
  void Follow(int64_t from_offset);
  // Queues `text`, waiting while the queue is full; false when cancelled.
  bool Push(std::string text);

  std::shared_ptr<AgentConnection> agent_;
  const std::string job_id_;
  const std::atomic<bool>* stopping_;
  grpc::ClientContext context_;
  absl::Mutex mutex_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mutex_);
  bool finished_ ABSL_GUARDED_BY(mutex_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_UI_JOB_EVENT_STREAM_H_
