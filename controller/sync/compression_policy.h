#ifndef MLCUBE_REMOTE_CONTROLLER_SYNC_COMPRESSION_POLICY_H_
#define MLCUBE_REMOTE_CONTROLLER_SYNC_COMPRESSION_POLICY_H_

// Chooses the zstd level for blob uploads from the throughput the link
// gives: compression only pays when the link is slower than the compressor.
// It starts at the fastest level and, once a few uploads have been timed,
// turns compression off on fast links (loopback, LAN: the CPU would be the
// bottleneck), keeps level 1 on fast WAN links and uses level 3 on slow
// ones. Thread-safe.

#include <cstdint>

#include "absl/synchronization/mutex.h"

namespace mlcube {

class CompressionPolicy {
 public:
  // Aggregate link throughputs (bytes/s) at which the level changes.
  static constexpr double kOffAbove = 200e6;
  static constexpr double kFastAbove = 30e6;

  // `parallel`: uploads in flight at once (each is timed on its own).
  explicit CompressionPolicy(int parallel) : parallel_(parallel) {}

  // 0: send uncompressed; else the zstd level to use.
  int Level() const;

  // One upload of `wire_bytes` took `seconds`.
  void Observe(int64_t wire_bytes, double seconds);

 private:
  const int parallel_;
  mutable absl::Mutex mu_;
  int64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  double seconds_ ABSL_GUARDED_BY(mu_) = 0;
  int samples_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SYNC_COMPRESSION_POLICY_H_
