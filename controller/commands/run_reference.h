#ifndef MLCUBE_REMOTE_CONTROLLER_COMMANDS_RUN_REFERENCE_H_
#define MLCUBE_REMOTE_CONTROLLER_COMMANDS_RUN_REFERENCE_H_

// `status|logs|cancel SWEEP/RUN`: a run of a sweep named instead of a job
// id. The host and job id come from runs/SWEEP/sweep.yaml in the workspace
// of the cube given by --mlcube (default: the current directory).

#include <string>

#include "absl/status/statusor.h"
#include "controller/commands/cube_options.h"

namespace mlcube {

struct RunReference {
  std::string host;
  std::string job_id;
};

// True when `job` names a run ("SWEEP/RUN") rather than a job id.
bool IsRunReference(const std::string& job);

// The host and job of run `reference` ("SWEEP/RUN"). Errors name the
// reference: INVALID_ARGUMENT for a malformed one, NOT_FOUND for an unknown
// sweep or run, FAILED_PRECONDITION for a run never submitted.
absl::StatusOr<RunReference> ResolveRunReference(const std::string& reference,
                                                 const CubeOptions& cube);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_COMMANDS_RUN_REFERENCE_H_
