#ifndef MLCUBE_REMOTE_CONTROLLER_SYNC_PARALLEL_RUNNER_H_
#define MLCUBE_REMOTE_CONTROLLER_SYNC_PARALLEL_RUNNER_H_

// Runs jobs 0..count-1 on a few threads (the calling one included); stops
// handing out jobs at the first error and returns it. Transfers mostly wait
// on the network or the agent's disk, so more threads than cores pay off.

#include <cstddef>
#include <functional>

#include "absl/status/status.h"

namespace mlcube {

inline constexpr int kTransferThreads = 4;

absl::Status RunParallel(size_t count, const std::function<absl::Status(size_t)>& job,
                         int threads = kTransferThreads);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SYNC_PARALLEL_RUNNER_H_
