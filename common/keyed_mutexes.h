#ifndef MLCUBE_REMOTE_COMMON_KEYED_MUTEXES_H_
#define MLCUBE_REMOTE_COMMON_KEYED_MUTEXES_H_

// One mutex per key (an identity, a cube), made on first use and kept for
// the life of this object (keys are few), so that what one key serialises
// never waits for another's. Thread-safe.

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace mlcube {

class KeyedMutexes {
 public:
  // The mutex of `key` (never null).
  absl::Mutex* Of(const std::string& key) {
    absl::MutexLock lock(&mu_);
    std::unique_ptr<absl::Mutex>& mutex = mutexes_[key];
    if (!mutex) mutex = std::make_unique<absl::Mutex>();
    return mutex.get();
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<absl::Mutex>> mutexes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_KEYED_MUTEXES_H_
