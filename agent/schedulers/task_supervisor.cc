#include "agent/schedulers/task_supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/job_log/job_log.h"
#include "agent/schedulers/exit_record.h"
#include "common/file_util.h"

namespace mlcube {

absl::Status TaskSupervisor::Launch(const std::string& self_exe, const SupervisedCommand& command) {
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
  std::vector<std::string> argv = {self_exe, "supervise", "--log=" + command.log_path,
                                   absl::StrCat("--log-max-bytes=", command.log_max_bytes),
                                   "--step=" + command.step_prefix};
  if (!command.cwd.empty()) argv.push_back("--cwd=" + command.cwd);
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
    } else {
      return std::nullopt;
    }
  }
  for (; i < args.size(); ++i) parsed.command.push_back(args[i]);
  if (parsed.log_path.empty() || parsed.step.empty() || parsed.command.empty()) {
    return std::nullopt;
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

// Appends what arrives on the two pipes to the log until both close.
void RelayOutput(int out_fd, int err_fd, JobLog* log) {
  // Large pipes: a chatty task (or `docker run` relaying one) blocks less
  // and we append fewer, larger records.
  fcntl(out_fd, F_SETPIPE_SZ, 1 << 20);
  fcntl(err_fd, F_SETPIPE_SZ, 1 << 20);
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  const JobLog::RecordType types[2] = {JobLog::RecordType::kStdout, JobLog::RecordType::kStderr};
  int open_pipes = 2;
  std::string buffer(256 * 1024, '\0');
  while (open_pipes > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int k = 0; k < 2; ++k) {
      if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[k].fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(fds[k].fd);
        fds[k].fd = -1;
        --open_pipes;
        continue;
      }
      // Discarded on purpose: a full disk loses output but must not stop the
      // task, and the supervisor has no one else to tell (no stderr).
      (void)log->Append(types[k], absl::string_view(buffer.data(), n));
    }
  }
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

  const std::string& step = args->step;
  auto log = JobLog::OpenForAppend(args->log_path, args->log_max);
  if (!log.ok()) _exit(1);
  // Its space is taken now: a disk the task fills cannot cost its record.
  ExitRecord exit_record = ExitRecord::Reserve(step);
  int out[2], err[2];
  // The supervisor reports only through the job log and the exit record:
  // when writing those fails there is no one left to tell (it has no
  // stderr), so their statuses are discarded below; the agent reads a
  // missing exit record as a lost step.
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    (void)log->Append(JobLog::RecordType::kAgent, "mlcube-agent: cannot create pipes\n");
    (void)exit_record.Commit("exit 125\n");
    _exit(1);
  }
  pid_t child = fork();
  if (child == 0) ExecStep(*args, out[1], err[1]);
  if (child < 0) {
    (void)log->Append(JobLog::RecordType::kAgent, "mlcube-agent: fork failed\n");
    (void)exit_record.Commit("exit 125\n");
    _exit(1);
  }
  setpgid(child, child);  // also here: no window in which a cancel misses it
  close(out[1]);
  close(err[1]);
  (void)WriteFileAtomically(step + ".pgid", absl::StrCat(child, "\n"));
  RelayOutput(out[0], err[0], &*log);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  const std::string result = WIFSIGNALED(status) ? absl::StrCat("signal ", WTERMSIG(status), "\n")
                                                 : absl::StrCat("exit ", WEXITSTATUS(status), "\n");
  (void)exit_record.Commit(result);
  _exit(0);
}

}  // namespace mlcube
