#ifndef MLCUBE_REMOTE_AGENT_SUBPROCESS_SUBPROCESS_H_
#define MLCUBE_REMOTE_AGENT_SUBPROCESS_SUBPROCESS_H_

// A child process started with posix_spawn (safe in a multi-threaded
// process, unlike fork + arbitrary code). The object owns the process: the
// destructor kills and reaps it if it still runs.

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mlcube {

struct SubprocessOptions {
  // Added to (or replacing entries of) the agent's own environment.
  std::map<std::string, std::string> env;
  std::string cwd;  // empty: the agent's
  // Capture stdout (and stderr merged into it) through a pipe.
  bool capture_output = false;
  // New session (setsid): the child outlives signals sent to our group.
  bool new_session = false;
  // This fd of ours becomes fd 3 in the child (for an inherited lock).
  int pass_fd_as_3 = -1;
};

// How a process ended: exit code, or 128 + signal number like a shell.
struct ExitStatus {
  bool signaled = false;
  int code = 0;  // exit code or signal number
  int ShellCode() const { return signaled ? 128 + code : code; }
};

class Subprocess {
 public:
  Subprocess() = default;
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // argv[0] is looked up in PATH when it has no '/'.
  absl::Status Start(const std::vector<std::string>& argv, const SubprocessOptions& options);

  // Reads the captured output to EOF (when capture_output) and reaps. When
  // the output does not end by `deadline` the process is killed.
  absl::StatusOr<ExitStatus> Wait(std::string* output = nullptr,
                                  absl::Time deadline = absl::InfiniteFuture());

  void Kill(int signal);
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int output_fd_ = -1;
};

struct CommandResult {
  ExitStatus status;
  std::string output;  // stdout and stderr merged
};

// Runs a command to completion, killing it after `timeout`. An error only
// when it could not be started (e.g. the binary is missing).
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout = absl::Seconds(30),
                                         const SubprocessOptions& options = {});

// Resolves a binary name against PATH; NOT_FOUND when absent.
absl::StatusOr<std::string> FindInPath(const std::string& name);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SUBPROCESS_SUBPROCESS_H_
