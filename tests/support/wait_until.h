#ifndef MLCUBE_REMOTE_TESTS_SUPPORT_WAIT_UNTIL_H_
#define MLCUBE_REMOTE_TESTS_SUPPORT_WAIT_UNTIL_H_

// Waiting on an event with a deadline, never on a guessed duration.

#include <functional>

namespace mlcube::testing {

// Polls `done` every `poll_ms` until it holds (true) or `timeout_s` passes
// (false).
bool WaitUntil(const std::function<bool()>& done, int timeout_s, int poll_ms = 50);

}  // namespace mlcube::testing

#endif  // MLCUBE_REMOTE_TESTS_SUPPORT_WAIT_UNTIL_H_
