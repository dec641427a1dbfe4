#include "agent/server/stream_limiter.h"

#include "absl/strings/str_cat.h"

namespace mlcube {

StreamLimiter::Slot::~Slot() {
  if (limiter_ != nullptr) limiter_->Release(owner_);
}

absl::StatusOr<StreamLimiter::Slot> StreamLimiter::Acquire(const std::string& owner) {
  absl::MutexLock lock(&mu_);
  int& open = open_[owner];
  if (limit_ > 0 && open >= limit_) {
    return absl::ResourceExhaustedError(
        absl::StrCat(owner, " already has ", open,
                     " streaming calls open (watch, upload, read); the agent allows ", limit_,
                     " per identity (limits.open_streams in its config)"));
  }
  ++open;
  return Slot(this, owner);
}

int StreamLimiter::OpenStreams(const std::string& owner) {
  absl::MutexLock lock(&mu_);
  auto it = open_.find(owner);
  return it == open_.end() ? 0 : it->second;
}

void StreamLimiter::Release(const std::string& owner) {
  absl::MutexLock lock(&mu_);
  auto it = open_.find(owner);
  if (it != open_.end() && --it->second <= 0) open_.erase(it);
}

}  // namespace mlcube
