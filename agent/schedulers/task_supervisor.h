#ifndef MLCUBE_REMOTE_AGENT_SCHEDULERS_TASK_SUPERVISOR_H_
#define MLCUBE_REMOTE_AGENT_SCHEDULERS_TASK_SUPERVISOR_H_

// Runs one step of a job (an image build, a task's `docker run`, an
// `apptainer run`) so that it outlives the agent: `mlcube-agent supervise`
// is started in its own session, forks once more so it is nobody's child,
// runs the command in its own process group, appends the command's stdout
// and stderr to the job log as they arrive, and finally writes the exit
// status to STEP.exit.
//
// While it runs it holds an flock on STEP.lock (inherited from the agent as
// fd 3, taken before the spawn, so there is no moment in which the step
// exists but looks finished). An agent, restarted or not, knows the step is
// over when it can take that lock; STEP.exit then says how it ended (and if
// STEP.exit is missing, the supervisor itself was killed).

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/subprocess/subprocess.h"

namespace mlcube {

struct SupervisedCommand {
  std::vector<std::string> argv;
  // Added to the agent's environment (passed through the environment, so
  // values never show in `ps`).
  std::map<std::string, std::string> env;
  std::string cwd;
  std::string log_path;
  int64_t log_max_bytes = 0;
  // Path prefix of the step's files: PREFIX.lock, PREFIX.exit, PREFIX.pgid.
  std::string step_prefix;
  // An image build (a scheduler may run it elsewhere than tasks).
  bool configure = false;
  // When set, `argv` is a `docker run` that the supervisor runs as
  // `create` and then follows through the engine's API
  // on this unix socket (ContainerSession): no client process stays
  // attached while the task runs. A SIGTERM to the step's process group is
  // forwarded to the container, as `docker run` forwards it.
  std::string engine_socket;
};

class TaskSupervisor {
 public:
  // The command that runs a supervisor (Main's arguments follow it): the
  // program mlcube-agent-supervisor beside `self_exe` (the agent binary, or
  // the bundle's launcher) when it is there — a process linked against a
  // fraction of the agent's libraries, one per running step — else
  // `self_exe supervise`.
  static std::vector<std::string> ProgramBeside(const std::string& self_exe);

  // Agent side: starts `program ...` (ProgramBeside) detached. Returns once
  // the supervisor holds the step lock.
  static absl::Status Launch(const std::vector<std::string>& program,
                             const SupervisedCommand& command);

  // True while a supervisor holds the step's lock.
  static bool Running(const std::string& step_prefix);

  // True when the step was ever launched (its lock file exists).
  static bool Launched(const std::string& step_prefix);

  // How the step's command ended; NOT_FOUND while running or when the
  // supervisor died without recording it.
  static absl::StatusOr<ExitStatus> ReadExit(const std::string& step_prefix);

  // The process group of the step's command (to kill it on cancel).
  static absl::StatusOr<pid_t> ReadProcessGroup(const std::string& step_prefix);

  // The `supervise` subcommand (argv after the subcommand name).
  static int Main(const std::vector<std::string>& args);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SCHEDULERS_TASK_SUPERVISOR_H_
