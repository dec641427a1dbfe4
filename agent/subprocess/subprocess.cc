#include "agent/subprocess/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace mlcube {

absl::StatusOr<std::string> FindInPath(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (access(name.c_str(), X_OK) == 0) return name;
    return absl::NotFoundError(absl::StrCat(name, ": not found or not executable"));
  }
  const char* path = getenv("PATH");
  std::string search = path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (absl::string_view dir : absl::StrSplit(search, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", name);
    struct stat st {};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return absl::NotFoundError(absl::StrCat(name, ": not found in PATH"));
}

Subprocess::~Subprocess() {
  if (output_fd_ >= 0) close(output_fd_);
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

absl::Status Subprocess::Start(const std::vector<std::string>& argv,
                               const SubprocessOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  auto binary = FindInPath(argv[0]);
  if (!binary.ok()) return binary.status();

  std::map<std::string, std::string> env_map;
  for (char** e = environ; *e; ++e) {
    const char* eq = strchr(*e, '=');
    if (eq) env_map[std::string(*e, eq - *e)] = eq + 1;
  }
  for (const auto& [k, v] : options.env) env_map[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env_map) env_strings.push_back(absl::StrCat(k, "=", v));
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argvp;
  for (auto& s : args) argvp.push_back(s.data());
  argvp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  if (options.new_session) flags |= POSIX_SPAWN_SETSID;
  posix_spawnattr_setflags(&attr, flags);

  int pipe_fds[2] = {-1, -1};
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (options.capture_output) {
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
      posix_spawn_file_actions_destroy(&actions);
      posix_spawnattr_destroy(&attr);
      return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
    }
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  }
  if (options.pass_fd_as_3 >= 0) {
    // dup2 onto itself would keep FD_CLOEXEC; callers never pass fd 3.
    posix_spawn_file_actions_adddup2(&actions, options.pass_fd_as_3, 3);
  }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());
#endif
  pid_t pid = -1;
  int rc = posix_spawn(&pid, binary->c_str(), &actions, &attr, argvp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (pipe_fds[1] >= 0) close(pipe_fds[1]);
  if (rc != 0) {
    if (pipe_fds[0] >= 0) close(pipe_fds[0]);
    return absl::InternalError(absl::StrCat("cannot start ", *binary, ": ", strerror(rc)));
  }
  pid_ = pid;
  output_fd_ = pipe_fds[0];
  return absl::OkStatus();
}

absl::StatusOr<ExitStatus> Subprocess::Wait(std::string* output, absl::Time deadline) {
  if (output_fd_ >= 0) {
    char buf[65536];
    for (;;) {
      int wait_ms = -1;
      if (deadline != absl::InfiniteFuture()) {
        wait_ms = static_cast<int>(
            std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
      }
      pollfd pfd{output_fd_, POLLIN, 0};
      int ready = poll(&pfd, 1, wait_ms);
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) {  // deadline passed: the command hangs
        if (pid_ > 0) kill(pid_, SIGKILL);
        break;
      }
      ssize_t n = read(output_fd_, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (output) output->append(buf, n);
    }
    close(output_fd_);
    output_fd_ = -1;
  }
  if (pid_ <= 0) return absl::FailedPreconditionError("no process");
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("waitpid: ", strerror(errno)));
  }
  pid_ = -1;
  ExitStatus result;
  if (WIFSIGNALED(status)) {
    result.signaled = true;
    result.code = WTERMSIG(status);
  } else {
    result.code = WEXITSTATUS(status);
  }
  return result;
}

void Subprocess::Kill(int signal) {
  if (pid_ > 0) kill(pid_, signal);
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout, const SubprocessOptions& options) {
  SubprocessOptions opts = options;
  opts.capture_output = true;
  Subprocess process;
  absl::Status started = process.Start(argv, opts);
  if (!started.ok()) return started;
  CommandResult result;
  auto status = process.Wait(&result.output, absl::Now() + timeout);
  if (!status.ok()) return status.status();
  result.status = *status;
  return result;
}

}  // namespace mlcube
