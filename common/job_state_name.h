#ifndef MLCUBE_REMOTE_COMMON_JOB_STATE_NAME_H_
#define MLCUBE_REMOTE_COMMON_JOB_STATE_NAME_H_

#include "mlcube_remote/v1/jobs.pb.h"

namespace mlcube {

// "QUEUED", "RUNNING", "SUCCEEDED", ...; "UNKNOWN" for anything else. The
// name users see in `status`, `jobs`, `runs` and the agent's log.
const char* JobStateName(mlcube_remote::v1::JobState state);

// "docker", "podman" or "singularity": the engine a job of `runtime` runs
// with (unspecified is Docker, the agent's default).
const char* RuntimeName(mlcube_remote::v1::Runtime runtime);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_JOB_STATE_NAME_H_
