#ifndef MLCUBE_REMOTE_COMMON_COPIED_VARIABLES_H_
#define MLCUBE_REMOTE_COMMON_COPIED_VARIABLES_H_

// Variables a cube copies from the environment of whoever runs it. MLCube
// passes a cube's extra run arguments to docker/singularity on the caller's
// machine, so `-e HF_TOKEN` there hands the caller's token to the task. The
// controller reads these names from its own environment and sends the
// values with the job (SubmitJobRequest.caller_env); the agent parses the
// arguments with each runtime's full grammar and gives the container the
// values it really copies (RunArgumentPolicy::TakeCopiedVariables).

#include <string>
#include <vector>

#include "common/cube.h"

namespace mlcube {

// The names `-e NAME`, `-eNAME`, `--env NAME` and `--env=NAME` (no '=' in
// NAME; NAME letters, digits and '_', not starting with a digit) copy in
// docker.cpu_args, gpu_args, env_args and singularity.run_args, once each,
// in order. A superset of what the agent uses (a word that is really the
// value of another option is listed too; the agent leaves it unused).
std::vector<std::string> CopiedVariableNames(const Cube& cube);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_COPIED_VARIABLES_H_
