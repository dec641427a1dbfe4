#ifndef MLCUBE_REMOTE_TESTS_INTEGRATION_AGENT_PROCESS_H_
#define MLCUBE_REMOTE_TESTS_INTEGRATION_AGENT_PROCESS_H_

// A real mlcube-agent for integration tests: its own state dir under /tmp,
// a unix socket, optionally running as another user (the tests run as root
// and start the agent as the unprivileged `mlcube` user, like production).

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace mlcube_test {

struct AgentProcessOptions {
  // Empty: run as the current user.
  std::string user;
  std::vector<std::string> extra_args;
  // Reuse this state dir (restart tests); empty: a new temp dir.
  std::string state_dir;
  // Run inside this network namespace (`ip netns exec`): a separate host.
  std::string netns;
  // Soft and hard RLIMIT_NOFILE of the agent; 0: inherited.
  int max_open_files = 0;
};

class AgentProcess {
 public:
  explicit AgentProcess(AgentProcessOptions options = {});
  ~AgentProcess();  // kills the agent; removes the temp dir when it made it

  // Starts and waits until GetInfo answers (10 s). Fails the test otherwise.
  bool Start();
  // Sends `signal` and reaps the agent (tasks it supervises keep running).
  void Kill(int signal);
  bool Running() const { return pid_ > 0; }

  std::shared_ptr<grpc::Channel> Channel() const;
  const std::string& state_dir() const { return state_dir_; }
  const std::string& socket_path() const { return socket_path_; }
  std::string Stderr() const;
  // The loopback TCP port the agent said it listens on (--listen=127.0.0.1:0);
  // -1, with a test failure, when it said none.
  int TcpPort() const;
  uid_t uid() const { return uid_; }
  pid_t pid() const { return pid_; }
  gid_t gid() const { return gid_; }

 private:
  AgentProcessOptions options_;
  std::string state_dir_;
  std::string socket_path_;
  std::string stderr_path_;
  bool own_state_dir_ = false;
  pid_t pid_ = -1;
  uid_t uid_;
  gid_t gid_;
};

// Runs a shell command, returns its exit code and (optionally) output.
int Shell(const std::string& command, std::string* output = nullptr);

// The uid/gid of a user; fails the test when missing, saying how to add it.
bool LookupUser(const std::string& user, uid_t* uid, gid_t* gid);

}  // namespace mlcube_test

#endif  // MLCUBE_REMOTE_TESTS_INTEGRATION_AGENT_PROCESS_H_
