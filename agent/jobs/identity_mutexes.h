#ifndef MLCUBE_REMOTE_AGENT_JOBS_IDENTITY_MUTEXES_H_
#define MLCUBE_REMOTE_AGENT_JOBS_IDENTITY_MUTEXES_H_

// One mutex per identity, made on first use and kept (identities are few),
// so that what one identity serialises never waits for another's.

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace mlcube {

class IdentityMutexes {
 public:
  // The mutex of `owner`; it lives as long as this object.
  absl::Mutex* Of(const std::string& owner) {
    absl::MutexLock lock(&mu_);
    std::unique_ptr<absl::Mutex>& mutex = mutexes_[owner];
    if (!mutex) mutex = std::make_unique<absl::Mutex>();
    return mutex.get();
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<absl::Mutex>> mutexes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_JOBS_IDENTITY_MUTEXES_H_
