#include "agent/schedulers/task_supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/engine/container_session.h"
#include "agent/job_log/job_log.h"
#include "agent/schedulers/exit_record.h"
#include "common/file_util.h"
#include "common/unique_fd.h"

namespace mlcube {

std::vector<std::string> TaskSupervisor::ProgramBeside(const std::string& self_exe) {
  const size_t slash = self_exe.rfind('/');
  if (slash != std::string::npos) {
    const std::string sibling = self_exe.substr(0, slash + 1) + "mlcube-agent-supervisor";
    if (access(sibling.c_str(), X_OK) == 0) return {sibling};
  }
  return {self_exe, "supervise"};
}

absl::Status TaskSupervisor::Launch(const std::vector<std::string>& program,
                                    const SupervisedCommand& command) {
  // The lock is created under a temporary name and renamed to PREFIX.lock
  // only once the supervisor holds it: an agent killed in between leaves a
  // PREFIX.lock.new that Launched() settles, never a PREFIX.lock that nobody
  // ever held (which would read as "the supervisor died").
  const std::string final_lock_path = command.step_prefix + ".lock";
  const std::string lock_path = command.step_prefix + ".lock.new";
  int lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (lock_fd < 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot create ", lock_path, ": ", strerror(errno)));
  }
  if (lock_fd <= 3) {  // dup2(fd, 3) onto itself would keep FD_CLOEXEC
    int moved = fcntl(lock_fd, F_DUPFD_CLOEXEC, 10);
    close(lock_fd);
    lock_fd = moved;
  }
  if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    close(lock_fd);
    return absl::FailedPreconditionError(absl::StrCat(lock_path, " is held: step already runs"));
  }
  std::vector<std::string> argv = program;
  argv.insert(argv.end(),
              {"--log=" + command.log_path, absl::StrCat("--log-max-bytes=", command.log_max_bytes),
               "--step=" + command.step_prefix});
  if (!command.cwd.empty()) argv.push_back("--cwd=" + command.cwd);
  if (!command.engine_socket.empty()) argv.push_back("--engine=" + command.engine_socket);
  argv.push_back("--");
  for (const auto& a : command.argv) argv.push_back(a);

  SubprocessOptions options;
  // Through the environment, not argv: values may be secrets, and any user
  // can read a process's argv.
  options.env = command.env;
  options.new_session = true;
  options.pass_fd_as_3 = lock_fd;
  Subprocess process;
  absl::Status started = process.Start(argv, options);
  close(lock_fd);  // the supervisor's copy keeps the lock
  if (!started.ok()) return started;
  auto status = process.Wait();  // the first process exits right after forking
  if (!status.ok()) return status.status();
  if (status->ShellCode() != 0) {
    return absl::InternalError(
        absl::StrCat("task supervisor failed to start (exit ", status->ShellCode(), ")"));
  }
  if (rename(lock_path.c_str(), final_lock_path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", lock_path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

bool TaskSupervisor::Launched(const std::string& step_prefix) {
  const std::string lock = step_prefix + ".lock";
  if (access(lock.c_str(), F_OK) == 0) return true;
  // A launch the agent did not finish (it was killed): the supervisor got
  // going if it holds the lock or already recorded its exit.
  const std::string pending = lock + ".new";
  if (access(pending.c_str(), F_OK) != 0) return false;
  int fd = open(pending.c_str(), O_RDONLY | O_CLOEXEC);
  const bool held = fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  if (fd >= 0) close(fd);
  if (held || access((step_prefix + ".exit").c_str(), F_OK) == 0) {
    return rename(pending.c_str(), lock.c_str()) == 0;
  }
  unlink(pending.c_str());
  return false;
}

bool TaskSupervisor::Running(const std::string& step_prefix) {
  int fd = open((step_prefix + ".lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  close(fd);  // drops our shared lock, if we got it
  return held;
}

absl::StatusOr<ExitStatus> TaskSupervisor::ReadExit(const std::string& step_prefix) {
  auto text = ReadSmallFile(step_prefix + ".exit");
  if (!text.ok()) return text.status();
  std::vector<std::string> words =
      absl::StrSplit(absl::StripAsciiWhitespace(*text), ' ', absl::SkipEmpty());
  ExitStatus status;
  if (words.size() != 2 || !absl::SimpleAtoi(words[1], &status.code) ||
      (words[0] != "exit" && words[0] != "signal")) {
    return absl::DataLossError(absl::StrCat(step_prefix, ".exit is malformed"));
  }
  status.signaled = words[0] == "signal";
  return status;
}

absl::StatusOr<pid_t> TaskSupervisor::ReadProcessGroup(const std::string& step_prefix) {
  auto text = ReadSmallFile(step_prefix + ".pgid");
  if (!text.ok()) return text.status();
  pid_t pgid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pgid) || pgid <= 1) {
    return absl::DataLossError(absl::StrCat(step_prefix, ".pgid is malformed"));
  }
  return pgid;
}

namespace {

struct SuperviseArgs {
  std::string log_path;
  std::string step;
  std::string cwd;
  std::string engine_socket;
  int64_t log_max = 64LL << 20;
  std::vector<std::string> command;
};

// `--log=PATH --log-max-bytes=N --step=PREFIX [--cwd=DIR] -- COMMAND...`
std::optional<SuperviseArgs> ParseSuperviseArgs(const std::vector<std::string>& args) {
  SuperviseArgs parsed;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (absl::StartsWith(a, "--log=")) {
      parsed.log_path = a.substr(6);
    } else if (absl::StartsWith(a, "--log-max-bytes=")) {
      if (!absl::SimpleAtoi(a.substr(16), &parsed.log_max)) return std::nullopt;
    } else if (absl::StartsWith(a, "--step=")) {
      parsed.step = a.substr(7);
    } else if (absl::StartsWith(a, "--cwd=")) {
      parsed.cwd = a.substr(6);
    } else if (absl::StartsWith(a, "--engine=")) {
      parsed.engine_socket = a.substr(9);
    } else {
      return std::nullopt;
    }
  }
  for (; i < args.size(); ++i) parsed.command.push_back(args[i]);
  if (parsed.log_path.empty() || parsed.step.empty() || parsed.command.empty()) {
    return std::nullopt;
  }
  // Through the engine: the command is `ENGINE run ...`, run as `create`.
  if (!parsed.engine_socket.empty()) {
    if (parsed.command.size() < 2 || parsed.command[1] != "run") return std::nullopt;
    parsed.command[1] = "create";
  }
  return parsed;
}

// The child: its own process group, stdin from /dev/null, output to the
// pipes; never returns.
[[noreturn]] void ExecStep(SuperviseArgs& args, int out_fd, int err_fd) {
  setpgid(0, 0);
  int devnull = open("/dev/null", O_RDONLY);
  dup2(devnull, 0);
  dup2(out_fd, 1);
  dup2(err_fd, 2);
  close(3);  // the step lock stays with the supervisor only
  signal(SIGHUP, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (!args.cwd.empty() && chdir(args.cwd.c_str()) != 0) {
    dprintf(2, "mlcube-agent: cannot enter %s: %s\n", args.cwd.c_str(), strerror(errno));
    _exit(126);
  }
  std::vector<char*> argv;
  for (std::string& a : args.command) argv.push_back(a.data());
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  dprintf(2, "mlcube-agent: cannot run %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

using OutputSink = std::function<void(JobLog::RecordType, absl::string_view)>;

// Hands what arrives on the two pipes to `sink` until both close.
void RelayOutput(int out_fd, int err_fd, const OutputSink& sink) {
  // Large pipes: a chatty task (or `docker run` relaying one) blocks less
  // and we append fewer, larger records.
  fcntl(out_fd, F_SETPIPE_SZ, 1 << 20);
  fcntl(err_fd, F_SETPIPE_SZ, 1 << 20);
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  const JobLog::RecordType types[2] = {JobLog::RecordType::kStdout, JobLog::RecordType::kStderr};
  int open_pipes = 2;
  // Not zero-filled: a page costs memory only once output reaches it.
  constexpr size_t kBufferBytes = 256 * 1024;
  std::unique_ptr<char[]> buffer(new char[kBufferBytes]);
  while (open_pipes > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int k = 0; k < 2; ++k) {
      if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[k].fd, buffer.get(), kBufferBytes);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(fds[k].fd);
        fds[k].fd = -1;
        --open_pipes;
        continue;
      }
      sink(types[k], absl::string_view(buffer.get(), n));
    }
  }
}

// Appends to the job log. Discarded on purpose: a full disk loses output
// but must not stop the task, and the supervisor has no one else to tell
// (no stderr).
OutputSink LogSink(JobLog* log) {
  return
      [log](JobLog::RecordType type, absl::string_view bytes) { (void)log->Append(type, bytes); };
}

// Runs the step's command in its own process group (recorded in
// STEP.pgid) with its output handed to `sink`; its wait status, or -1 when
// it could not be started (said in the log).
int RunRelayed(SuperviseArgs& args, JobLog* log, const OutputSink& sink) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    (void)log->Append(JobLog::RecordType::kAgent, "mlcube-agent: cannot create pipes\n");
    return -1;
  }
  pid_t child = fork();
  if (child == 0) ExecStep(args, out[1], err[1]);
  close(out[1]);
  close(err[1]);
  if (child < 0) {
    close(out[0]);
    close(err[0]);
    (void)log->Append(JobLog::RecordType::kAgent, "mlcube-agent: fork failed\n");
    return -1;
  }
  setpgid(child, child);  // also here: no window in which a cancel misses it
  (void)WriteFileAtomically(args.step + ".pgid", absl::StrCat(child, "\n"));
  RelayOutput(out[0], err[0], sink);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

std::string ExitLine(int wait_status) {
  return WIFSIGNALED(wait_status) ? absl::StrCat("signal ", WTERMSIG(wait_status), "\n")
                                  : absl::StrCat("exit ", WEXITSTATUS(wait_status), "\n");
}

// The engine's name for messages, as its CLI prints them ("docker: ...").
std::string EngineName(const SuperviseArgs& args) {
  const std::string& binary = args.command[0];
  return binary.substr(binary.rfind('/') + 1);
}

// Whether a stop (SIGTERM/SIGINT) arrived; consumes it and names its signal.
std::optional<std::string> TakeStop(int signal_fd) {
  signalfd_siginfo info{};
  if (read(signal_fd, &info, sizeof(info)) != sizeof(info)) return std::nullopt;
  return info.ssi_signo == SIGINT ? "INT" : "TERM";
}

// Removes the created container `id` that will not run: through the API,
// else with the engine's CLI (so a container is not left behind when the
// engine's socket went away for a moment).
void DiscardContainer(const SuperviseArgs& args, const std::string& id, JobLog* log) {
  if (RemoveContainer(args.engine_socket, id).ok()) return;
  SuperviseArgs remove = args;
  remove.command = {args.command[0], "rm", "-f", id};
  (void)RunRelayed(remove, log, [](JobLog::RecordType, absl::string_view) {});
}

// The container `id` (created, not started) run to its end through the
// engine: the exit record's line.
std::string RunCreatedContainer(const SuperviseArgs& args, const std::string& id, int signal_fd,
                                JobLog* log) {
  auto agent_line = [log](const std::string& text) {
    (void)log->Append(JobLog::RecordType::kAgent, absl::StrCat("mlcube-agent: ", text, "\n"));
  };
  auto session = ContainerSession::Attach(args.engine_socket, id);
  if (!session.ok()) {
    agent_line(absl::StrCat("cannot follow container ", id, " through ", args.engine_socket, ": ",
                            session.status().message()));
    DiscardContainer(args, id, log);
    return "exit 125\n";
  }
  if (TakeStop(signal_fd).has_value()) {  // cancelled while it was being created
    DiscardContainer(args, id, log);
    return "exit 143\n";
  }
  if (absl::Status started = session->Start(); !started.ok()) {
    (void)log->Append(
        JobLog::RecordType::kStderr,
        absl::StrCat(EngineName(args), ": Error response from daemon: ", started.message(), ".\n"));
    DiscardContainer(args, id, log);
    return absl::StrCat("exit ", StartFailureExitCode(started.message()), "\n");
  }
  malloc_trim(0);  // what setting up took (parsing the inspect) goes back for the task's life
  absl::Status relayed = session->Relay(
      [log](EngineStream stream, absl::string_view bytes) {
        (void)log->Append(stream == EngineStream::kStderr ? JobLog::RecordType::kStderr
                                                          : JobLog::RecordType::kStdout,
                          bytes);
      },
      signal_fd,
      [&] {
        if (std::optional<std::string> stop = TakeStop(signal_fd)) (void)session->Signal(*stop);
      });
  if (!relayed.ok())
    agent_line(absl::StrCat("the container's output stream broke: ", relayed.message()));
  auto code = session->ExitCode();
  if (!code.ok()) {
    agent_line(absl::StrCat("the engine did not report how the container ended: ",
                            code.status().message()));
    return "exit 125\n";
  }
  return absl::StrCat("exit ", *code, "\n");
}

// `ENGINE create ...` (its output: the container's id), then the container
// run to its end through the engine's API. A SIGTERM or SIGINT to the
// step's process group — the command's while it creates, then the
// supervisor's own — is forwarded to the container.
std::string FollowThroughEngine(SuperviseArgs& args, JobLog* log) {
  sigset_t stops;
  sigemptyset(&stops);
  sigaddset(&stops, SIGTERM);
  sigaddset(&stops, SIGINT);
  sigprocmask(SIG_BLOCK, &stops, nullptr);  // pending until read, unblocked for the command
  std::string id;
  const int status = RunRelayed(args, log, [&](JobLog::RecordType type, absl::string_view bytes) {
    if (type == JobLog::RecordType::kStdout) {
      if (id.size() < 256) id.append(bytes.data(), bytes.size());
    } else {
      (void)log->Append(type, bytes);
    }
  });
  if (status < 0) return "exit 125\n";
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return ExitLine(status);
  setpgid(0, 0);
  (void)WriteFileAtomically(args.step + ".pgid", absl::StrCat(getpid(), "\n"));
  UniqueFd signal_fd(signalfd(-1, &stops, SFD_CLOEXEC | SFD_NONBLOCK));
  return RunCreatedContainer(args, std::string(absl::StripAsciiWhitespace(id)), signal_fd.get(),
                             log);
}

}  // namespace

int TaskSupervisor::Main(const std::vector<std::string>& raw_args) {
  std::optional<SuperviseArgs> args = ParseSuperviseArgs(raw_args);
  if (!args.has_value()) return 2;

  // Leave the agent: our parent exits now, we are re-parented to init (or
  // the service manager) and are not killed with the agent.
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid > 0) _exit(0);
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);

  auto log = JobLog::OpenForAppend(args->log_path, args->log_max);
  if (!log.ok()) _exit(1);
  // Its space is taken now: a disk the task fills cannot cost its record.
  ExitRecord exit_record = ExitRecord::Reserve(args->step);
  // The supervisor reports only through the job log and the exit record:
  // when writing those fails there is no one left to tell (it has no
  // stderr), so their statuses are discarded below; the agent reads a
  // missing exit record as a lost step.
  if (!args->engine_socket.empty()) {
    (void)exit_record.Commit(FollowThroughEngine(*args, &*log));
    _exit(0);
  }
  const int status = RunRelayed(*args, &*log, LogSink(&*log));
  (void)exit_record.Commit(status < 0 ? "exit 125\n" : ExitLine(status));
  _exit(0);
}

}  // namespace mlcube
