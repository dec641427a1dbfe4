#include "tests/integration/latency_check.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace mlcube_test {

std::chrono::microseconds MedianLatency(const std::string& what, int n,
                                        const std::function<bool()>& call) {
  std::vector<std::chrono::microseconds> times;
  for (int i = 0; i < n; ++i) {
    const auto start = std::chrono::steady_clock::now();
    if (!call()) {
      ADD_FAILURE() << what << " failed (run " << i + 1 << " of " << n << ")";
      return kFailedLatency;
    }
    times.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

bool WithinTwiceIdle(std::chrono::microseconds idle, std::chrono::microseconds attacked,
                     std::chrono::microseconds floor) {
  return attacked <= 2 * idle + floor;
}

int OpenFds(pid_t pid) {
  DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (dir == nullptr) return -1;
  int n = 0;
  while (readdir(dir) != nullptr) ++n;
  closedir(dir);
  return n - 2;
}

}  // namespace mlcube_test
