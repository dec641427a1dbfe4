#ifndef MLCUBE_REMOTE_AGENT_JOBS_IDENTITY_MUTEXES_H_
#define MLCUBE_REMOTE_AGENT_JOBS_IDENTITY_MUTEXES_H_

// One mutex per identity, made on first use and kept (identities are few),
// so that what one identity serialises never waits for another's.

#include "common/keyed_mutexes.h"

namespace mlcube {

using IdentityMutexes = KeyedMutexes;

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_JOBS_IDENTITY_MUTEXES_H_
