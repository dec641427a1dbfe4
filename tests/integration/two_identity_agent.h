#ifndef MLCUBE_REMOTE_TESTS_INTEGRATION_TWO_IDENTITY_AGENT_H_
#define MLCUBE_REMOTE_TESTS_INTEGRATION_TWO_IDENTITY_AGENT_H_

// A real agent on loopback TCP with mutual TLS and two client identities,
// alice and bob (certificates from the agent's CA, made by
// `mlcube-agent certs init` and the certificate factory), each with a hosts
// file, its own scan cache, and a gRPC channel for calls the CLI does not
// make. For tests of what one identity can see or use of another's.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/integration/agent_process.h"
#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"

namespace mlcube_test {

class TwoIdentityAgent {
 public:
  // `config_extra` is appended to the agent's YAML config (e.g. limits);
  // without task_users in it, a pool (3100000-3100099) is added.
  // `agent_user` (e.g. "mlcube"; empty: the current user) runs the agent,
  // as production does and as Apptainer needs (it refuses root here).
  explicit TwoIdentityAgent(std::string config_extra = "", std::string agent_user = "")
      : config_extra_(std::move(config_extra)), agent_user_(std::move(agent_user)) {}

  // Before Start: the agent's RLIMIT_NOFILE (0: inherited) and its state
  // directory (empty: a new temporary one; e.g. a small filesystem).
  void set_max_open_files(int n) { max_open_files_ = n; }
  void set_state_dir(std::string dir) { state_dir_ = std::move(dir); }
  // Before Start: the hosts files' `runtime:` (empty: the default, docker).
  void set_host_runtime(std::string runtime) { host_runtime_ = std::move(runtime); }

  // Makes the certificates, starts the agent, writes the hosts files.
  // Adds a test failure and returns false when something is missing.
  bool Start();

  // Runs mlcube-remote as `user` ("alice" or "bob") against the agent.
  ::mlcube::testing::CommandResult As(const std::string& user,
                                      const std::vector<std::string>& args) const;

  // A TLS channel to the agent authenticated as `user`. With
  // `own_connection` it never shares its connection with another channel
  // (gRPC otherwise reuses one between channels of equal settings).
  std::shared_ptr<grpc::Channel> Channel(const std::string& user,
                                         bool own_connection = false) const;

  // The task uid the agent recorded for `identity` ("cn-bob"; 0 when none).
  uid_t TaskUid(const std::string& identity) const;

  AgentProcess& agent() { return *agent_; }
  const std::string& root() const { return root_.path(); }

 private:
  std::string CertStem(const std::string& user) const { return user == "alice" ? "client" : user; }

  std::string config_extra_;
  std::string agent_user_;
  int max_open_files_ = 0;
  std::string state_dir_;
  std::string host_runtime_;
  ::mlcube::testing::TempDir root_;
  std::string certs_;
  std::string port_;
  std::unique_ptr<AgentProcess> agent_;
};

}  // namespace mlcube_test

#endif  // MLCUBE_REMOTE_TESTS_INTEGRATION_TWO_IDENTITY_AGENT_H_
