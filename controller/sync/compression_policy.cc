#include "controller/sync/compression_policy.h"

namespace mlcube {

namespace {

constexpr int kMinSamples = 4;
constexpr int64_t kMinBytes = 256 << 10;

}  // namespace

int CompressionPolicy::Level() const {
  absl::MutexLock lock(&mu_);
  if (samples_ < kMinSamples || bytes_ < kMinBytes || seconds_ <= 0) return 1;
  const double throughput = static_cast<double>(bytes_) / seconds_ * parallel_;
  if (throughput > kOffAbove) return 0;
  if (throughput > kFastAbove) return 1;
  return 3;
}

void CompressionPolicy::Observe(int64_t wire_bytes, double seconds) {
  absl::MutexLock lock(&mu_);
  bytes_ += wire_bytes;
  seconds_ += seconds;
  ++samples_;
}

}  // namespace mlcube
