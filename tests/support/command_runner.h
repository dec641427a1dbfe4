#ifndef MLCUBE_REMOTE_TESTS_SUPPORT_COMMAND_RUNNER_H_
#define MLCUBE_REMOTE_TESTS_SUPPORT_COMMAND_RUNNER_H_

// Runs a program to completion and captures what it printed, for tests that
// drive the real binaries.

#include <string>
#include <vector>

namespace mlcube::testing {

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string out;
  std::string err;
};

// `argv[0]` is a path. `extra_env` entries are NAME=VALUE added to the
// current environment. Gives up (killing the child) after `timeout_seconds`.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::string>& extra_env = {}, int timeout_seconds = 60);

}  // namespace mlcube::testing

#endif  // MLCUBE_REMOTE_TESTS_SUPPORT_COMMAND_RUNNER_H_
