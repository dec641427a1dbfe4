#include "common/background_sha256.h"

#include <system_error>
#include <utility>

namespace mlcube {

BackgroundSha256::BackgroundSha256(size_t max_queued_bytes) : max_queued_bytes_(max_queued_bytes) {
  try {
    thread_ = std::thread([this] { Run(); });
  } catch (const std::system_error&) {
    // Out of threads (inside a gRPC handler, say): Add hashes in place.
  }
}

BackgroundSha256::~BackgroundSha256() {
  {
    absl::MutexLock lock(&mu_);
    queue_.clear();  // nobody will ask for this hash
  }
  Stop();
}

void BackgroundSha256::Queue(Piece piece) {
  if (!thread_.joinable()) {
    Hash(piece);
    return;
  }
  absl::MutexLock lock(&mu_);
  // A piece larger than the bound waits for an empty queue, never forever.
  mu_.Await(absl::Condition(
      +[](BackgroundSha256* self)
           ABSL_NO_THREAD_SAFETY_ANALYSIS { return self->queued_bytes_ < self->max_queued_bytes_; },
      this));
  queued_bytes_ += piece.data().size();
  queue_.push_back(std::move(piece));
}

void BackgroundSha256::Hash(const Piece& piece) {
  sha_.Update(piece.data());
  if (!piece.chunk) return;
  Sha256 own;
  own.Update(piece.data());
  chunk_digests_.push_back(own.FinishRaw());
}

void BackgroundSha256::Run() {
  for (;;) {
    Piece piece;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](BackgroundSha256* self)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return !self->queue_.empty() || self->closed_; },
          this));
      if (queue_.empty()) return;
      piece = std::move(queue_.front());
      queue_.pop_front();
    }
    Hash(piece);
    absl::MutexLock lock(&mu_);
    queued_bytes_ -= piece.data().size();
  }
}

void BackgroundSha256::Stop() {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

v1Digest BackgroundSha256::Finish() {
  Stop();
  return sha_.Finish();
}

}  // namespace mlcube
