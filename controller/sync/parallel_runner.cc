#include "controller/sync/parallel_runner.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace mlcube {

absl::Status RunParallel(size_t count, const std::function<absl::Status(size_t)>& job,
                         int threads) {
  std::atomic<size_t> next{0};
  absl::Mutex mu;
  absl::Status first;
  std::atomic<bool> failed{false};
  auto worker = [&]() {
    for (size_t i = next++; i < count && !failed; i = next++) {
      absl::Status s = job(i);
      if (!s.ok()) {
        absl::MutexLock lock(&mu);
        if (first.ok()) first = s;
        failed = true;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads && static_cast<size_t>(t) < count; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  return first;
}

}  // namespace mlcube
