#ifndef MLCUBE_REMOTE_CONTROLLER_CLI_H_
#define MLCUBE_REMOTE_CONTROLLER_CLI_H_

#include "controller/environment/controller_environment.h"

namespace mlcube {

// Parses the command line and runs one command with `env` (the environment
// variables, read once by main). Returns the process exit status: 0
// success, 2 bad input (config, flags), other codes per command.
int RunCli(int argc, char** argv, const ControllerEnvironment& env);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_CLI_H_
