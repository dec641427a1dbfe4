#include "tests/integration/agent_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "mlcube_remote/v1/agent.grpc.pb.h"

namespace mlcube_test {

int Shell(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  std::array<char, 4096> buf;
  std::string out;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int status = pclose(pipe);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool LookupUser(const std::string& user, uid_t* uid, gid_t* gid) {
  struct passwd* pw = getpwnam(user.c_str());
  if (!pw) {
    ADD_FAILURE() << "user '" << user
                  << "' does not exist; create it as root with tools/create-test-user.sh";
    return false;
  }
  *uid = pw->pw_uid;
  *gid = pw->pw_gid;
  return true;
}

AgentProcess::AgentProcess(AgentProcessOptions options)
    : options_(std::move(options)), uid_(getuid()), gid_(getgid()) {}

AgentProcess::~AgentProcess() {
  if (pid_ > 0) Kill(SIGKILL);
  if (own_state_dir_ && !state_dir_.empty()) {
    // A failed test may leave tasks running: stop its containers and the
    // process groups of its steps (only this agent's jobs).
    // Careful: with no job dirs the glob stays literal; only real 8-hex ids
    // may reach the docker name filter (a bare "mlcube-" would match every
    // test's containers on this machine).
    Shell("for j in '" + state_dir_ +
          "'/jobs/*/; do id=$(basename \"$j\"); "
          "echo \"$id\" | grep -qxE '[0-9a-f]{8}' || continue; "
          "docker ps -aq --filter \"name=^mlcube-$id-\" | xargs -r docker rm -f >/dev/null; "
          "for p in \"$j\"step-*.pgid; do [ -f \"$p\" ] && [ ! -f \"${p%.pgid}.exit\" ] && "
          "kill -9 -- -$(cat \"$p\") "
          "2>/dev/null; done; done; true");
    if (getenv("MLCUBE_KEEP_TEST_DIRS") == nullptr) {
      Shell("rm -rf '" + state_dir_ + "' '" + stderr_path_ + "'");
    }
  }
}

bool AgentProcess::Start() {
  if (!options_.user.empty() && !LookupUser(options_.user, &uid_, &gid_)) return false;
  if (state_dir_.empty()) {
    if (!options_.state_dir.empty()) {
      state_dir_ = options_.state_dir;
    } else {
      char tmpl[] = "/tmp/mlcube-agent-test-XXXXXX";
      if (!mkdtemp(tmpl)) {
        ADD_FAILURE() << "mkdtemp failed";
        return false;
      }
      state_dir_ = tmpl;
      own_state_dir_ = true;
      chmod(state_dir_.c_str(), 0755);
      if (chown(state_dir_.c_str(), uid_, gid_) != 0) {
        ADD_FAILURE() << "chown " << state_dir_ << " failed";
        return false;
      }
    }
  }
  socket_path_ = state_dir_ + "/agent.sock";
  stderr_path_ = state_dir_ + ".agent.log";
  std::vector<std::string> args;
  if (!options_.netns.empty()) args = {"/usr/bin/ip", "netns", "exec", options_.netns};
  if (!options_.user.empty()) {
    // --reset-env: only the user's HOME, SHELL, USER and a default PATH.
    for (const std::string& arg :
         {std::string("/usr/bin/setpriv"), "--reuid=" + std::to_string(uid_),
          "--regid=" + std::to_string(gid_), std::string("--init-groups"),
          std::string("--reset-env")}) {
      args.push_back(arg);
    }
  }
  args.push_back(MLCUBE_AGENT_BIN);
  args.push_back("serve");
  args.push_back("--listen=unix://" + socket_path_);
  args.push_back("--state-dir=" + state_dir_);
  for (const auto& a : options_.extra_args) args.push_back(a);

  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 2);
      dup2(fd, 1);
    }
    if (options_.max_open_files > 0) {
      const rlim_t n = static_cast<rlim_t>(options_.max_open_files);
      const struct rlimit limit = {n, n};
      if (setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(126);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  for (int i = 0; i < 200; ++i) {
    // A fresh channel each time: a channel that saw the socket refuse (a
    // stale socket file of a killed agent) would back off for seconds.
    mlcube_remote::v1::Agent::Stub stub(Channel());
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      ADD_FAILURE() << "agent exited at start-up:\n" << Stderr();
      return false;
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    mlcube_remote::v1::GetInfoRequest req;
    mlcube_remote::v1::AgentInfo info;
    if (access(socket_path_.c_str(), F_OK) == 0 && stub.GetInfo(&ctx, req, &info).ok()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "agent did not answer within 10 s:\n" << Stderr();
  return false;
}

void AgentProcess::Kill(int signal) {
  if (pid_ <= 0) return;
  kill(pid_, signal);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::shared_ptr<grpc::Channel> AgentProcess::Channel() const {
  return grpc::CreateChannel("unix://" + socket_path_, grpc::InsecureChannelCredentials());
}

int AgentProcess::TcpPort() const {
  const std::string log = Stderr();
  const size_t at = log.find("127.0.0.1:");
  if (at == std::string::npos) {
    ADD_FAILURE() << "no TCP port in the agent's log:\n" << log;
    return -1;
  }
  return std::stoi(log.substr(at + 10));
}

std::string AgentProcess::Stderr() const {
  std::ifstream in(stderr_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace mlcube_test
