#include "agent/cas/blob_collector.h"

#include <ctime>

namespace mlcube {

absl::Status BlobCollector::MaybeCollect() {
  if (options_.cache_bytes <= 0) return absl::OkStatus();
  {
    absl::MutexLock lock(&mu_);
    const int64_t now = static_cast<int64_t>(time(nullptr));
    if (last_collection_ != 0 && now - last_collection_ < options_.interval_seconds) {
      return absl::OkStatus();
    }
    last_collection_ = now;
  }
  return Collect();
}

absl::Status BlobCollector::Collect() {
  return store_->CollectGarbage(options_.cache_bytes, referenced_(), options_.min_age_seconds)
      .status();
}

}  // namespace mlcube
