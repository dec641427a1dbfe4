#ifndef MLCUBE_REMOTE_TESTS_SUPPORT_COMMAND_RUNNER_H_
#define MLCUBE_REMOTE_TESTS_SUPPORT_COMMAND_RUNNER_H_

// Runs a program to completion and captures what it printed, for tests that
// drive the real binaries.

#include <sys/types.h>

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

// A command running in the background with its output going to files, for
// tests that signal it (Ctrl-C) or disturb its peer while it runs.
class BackgroundCommand {
 public:
  BackgroundCommand(const std::vector<std::string>& argv,
                    const std::vector<std::string>& extra_env = {});
  ~BackgroundCommand();  // kills the command if it still runs
  BackgroundCommand(const BackgroundCommand&) = delete;
  BackgroundCommand& operator=(const BackgroundCommand&) = delete;

  pid_t pid() const { return pid_; }
  // What it printed to stdout so far.
  std::string OutputSoFar() const;
  // Waits (killing it after `timeout_seconds`) and returns the result.
  CommandResult Wait(int timeout_seconds = 60);

 private:
  pid_t pid_ = -1;
  std::string out_path_;
  std::string err_path_;
  bool waited_ = false;
};

}  // namespace mlcube::testing

#endif  // MLCUBE_REMOTE_TESTS_SUPPORT_COMMAND_RUNNER_H_
