#include "tests/support/wait_until.h"

#include <chrono>
#include <thread>

namespace mlcube::testing {

bool WaitUntil(const std::function<bool()>& done, int timeout_s, int poll_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
  return true;
}

}  // namespace mlcube::testing
