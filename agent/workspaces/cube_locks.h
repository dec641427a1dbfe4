#ifndef MLCUBE_REMOTE_AGENT_WORKSPACES_CUBE_LOCKS_H_
#define MLCUBE_REMOTE_AGENT_WORKSPACES_CUBE_LOCKS_H_

// One mutex per cube (OWNER/CUBE_ID): what changes a cube's tree or its
// commit record (commit, delete, marking its workspace used) holds it, so
// those run one at a time per cube. Mutexes live as long as this object.
// Thread-safe.

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/keyed_mutexes.h"

namespace mlcube {

class CubeLocks {
 public:
  // The cube's mutex (never null; made on first use).
  absl::Mutex* For(const std::string& owner, const std::string& cube_id) {
    return mutexes_.Of(absl::StrCat(owner, "/", cube_id));
  }

 private:
  KeyedMutexes mutexes_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_WORKSPACES_CUBE_LOCKS_H_
