#ifndef MLCUBE_REMOTE_AGENT_SERVER_STREAM_LIMITER_H_
#define MLCUBE_REMOTE_AGENT_SERVER_STREAM_LIMITER_H_

// Caps the streaming calls (WatchJob, UploadBlob, ReadBlob) one identity
// holds open at once, so one user's runaway script cannot tie up the
// agent's threads for everybody. A call holds a Slot for its life.
// Thread-safe.

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace mlcube {

class StreamLimiter {
 public:
  // `limit` 0: no limit.
  explicit StreamLimiter(int limit) : limit_(limit) {}
  StreamLimiter(const StreamLimiter&) = delete;
  StreamLimiter& operator=(const StreamLimiter&) = delete;

  class Slot {
   public:
    Slot(Slot&& other) noexcept : limiter_(other.limiter_), owner_(std::move(other.owner_)) {
      other.limiter_ = nullptr;
    }
    Slot& operator=(Slot&&) = delete;
    ~Slot();

   private:
    friend class StreamLimiter;
    Slot(StreamLimiter* limiter, std::string owner) : limiter_(limiter), owner_(std::move(owner)) {}
    StreamLimiter* limiter_;
    std::string owner_;
  };

  // RESOURCE_EXHAUSTED, naming the limit, when `owner` has `limit` open.
  absl::StatusOr<Slot> Acquire(const std::string& owner);

  int OpenStreams(const std::string& owner);

 private:
  void Release(const std::string& owner);

  const int limit_;
  absl::Mutex mu_;
  std::map<std::string, int> open_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SERVER_STREAM_LIMITER_H_
