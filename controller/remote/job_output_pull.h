#ifndef MLCUBE_REMOTE_CONTROLLER_REMOTE_JOB_OUTPUT_PULL_H_
#define MLCUBE_REMOTE_CONTROLLER_REMOTE_JOB_OUTPUT_PULL_H_

// A job's outputs into the cube's local workspace (`sync pull --job` and
// the dashboard's Pull button). Where it may write: what `run` recorded when
// it submitted the job; else the outputs of the job's tasks as this cube
// names them and, for a run of a sweep recorded here, the run's own. The
// agent's listing never decides where a pull writes.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/cube.h"
#include "controller/sync/sync_options.h"
#include "controller/transport/agent_connection.h"

namespace mlcube {

absl::StatusOr<std::vector<std::string>> JobOutputPaths(AgentConnection& agent, const Cube& cube,
                                                        const std::string& cube_id,
                                                        const std::string& job_id);

// Pulls job `job_id`'s outputs from `agent` into `cube`'s workspace with
// `options` (cube, workspace, job and outputs are filled in here; the cube
// id too unless set).
absl::StatusOr<PullStats> PullJobOutputs(AgentConnection& agent, const Cube& cube,
                                         const std::string& job_id, PullOptions options);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_REMOTE_JOB_OUTPUT_PULL_H_
