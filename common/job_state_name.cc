#include "common/job_state_name.h"

namespace mlcube {

const char* JobStateName(mlcube_remote::v1::JobState state) {
  switch (state) {
    case mlcube_remote::v1::JOB_STATE_QUEUED:
      return "QUEUED";
    case mlcube_remote::v1::JOB_STATE_PREPARING:
      return "PREPARING";
    case mlcube_remote::v1::JOB_STATE_RUNNING:
      return "RUNNING";
    case mlcube_remote::v1::JOB_STATE_SUCCEEDED:
      return "SUCCEEDED";
    case mlcube_remote::v1::JOB_STATE_FAILED:
      return "FAILED";
    case mlcube_remote::v1::JOB_STATE_CANCELLED:
      return "CANCELLED";
    default:
      return "UNKNOWN";
  }
}

const char* RuntimeName(mlcube_remote::v1::Runtime runtime) {
  switch (runtime) {
    case mlcube_remote::v1::RUNTIME_PODMAN:
      return "podman";
    case mlcube_remote::v1::RUNTIME_SINGULARITY:
      return "singularity";
    default:
      return "docker";
  }
}

}  // namespace mlcube
