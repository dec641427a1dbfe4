#ifndef MLCUBE_REMOTE_TESTS_INTEGRATION_LATENCY_CHECK_H_
#define MLCUBE_REMOTE_TESTS_INTEGRATION_LATENCY_CHECK_H_

// What the per-identity limit tests measure: how long another identity's
// request takes while one identity attacks, against how long it takes idle,
// and how many descriptors the agent holds.
//
// The acceptance rule is "within 2x of its idle latency". The tests run on
// two cores shared with other builds and tests, so each side is the median
// of several runs, and a small absolute floor is added to 2x idle: a
// sub-millisecond GetInfo (or a two-second docker run) can double from
// scheduling noise alone, which says nothing about the attack.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>

namespace mlcube_test {

// The median wall time of `n` calls of `call`. A call returning false adds
// a test failure (naming `what`) and makes the result kFailedLatency, so a
// refused or failed request always fails the comparison.
std::chrono::microseconds MedianLatency(const std::string& what, int n,
                                        const std::function<bool()>& call);
inline constexpr std::chrono::microseconds kFailedLatency = std::chrono::seconds(1000);

// True when `attacked` <= 2 * `idle` + `floor`.
bool WithinTwiceIdle(std::chrono::microseconds idle, std::chrono::microseconds attacked,
                     std::chrono::microseconds floor);

// Descriptors `pid` has open; -1 when it cannot be read.
int OpenFds(pid_t pid);

}  // namespace mlcube_test

#endif  // MLCUBE_REMOTE_TESTS_INTEGRATION_LATENCY_CHECK_H_
