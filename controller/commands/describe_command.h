#ifndef MLCUBE_REMOTE_CONTROLLER_COMMANDS_DESCRIBE_COMMAND_H_
#define MLCUBE_REMOTE_CONTROLLER_COMMANDS_DESCRIBE_COMMAND_H_

#include <ostream>

#include "controller/commands/cube_options.h"
#include "controller/terminal/console.h"

namespace mlcube {

// `mlcube-remote describe`: name, tasks and each parameter's type, default
// and resolved host path, written to `out`. Returns the exit status.
int RunDescribeCommand(const CubeOptions& options, const Console& console, std::ostream& out);

// `mlcube-remote show-config`: the effective configuration as YAML.
int RunShowConfigCommand(const CubeOptions& options, const Console& console, std::ostream& out);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_COMMANDS_DESCRIBE_COMMAND_H_
