#ifndef MLCUBE_REMOTE_TESTS_INTEGRATION_SSH_TEST_SERVER_H_
#define MLCUBE_REMOTE_TESTS_INTEGRATION_SSH_TEST_SERVER_H_

// A real OpenSSH sshd for the SSH-transport tests, started through
// tools/start-test-sshd.sh on a free loopback port (or an address inside a
// network namespace), accepting one public key for one user. Killed and
// reaped when the object dies.

#include <sys/types.h>

#include <string>
#include <vector>

namespace mlcube_test {

class SshTestServer {
 public:
  // `dir` receives the host key, config and authorized_keys.
  SshTestServer(std::string dir, std::string user, std::string authorized_key_file);
  ~SshTestServer();
  SshTestServer(const SshTestServer&) = delete;
  SshTestServer& operator=(const SshTestServer&) = delete;

  // Starts sshd on `address` (in network namespace `netns` when not empty)
  // and waits until it accepts connections. Adds a test failure (with the
  // sshd log) and returns false otherwise.
  bool Start(const std::string& address = "127.0.0.1", const std::string& netns = "");

  int port() const { return port_; }
  const std::string& address() const { return address_; }
  // "[ADDRESS]:PORT ssh-ed25519 AAAA..." : a known_hosts line for this server.
  std::string KnownHostsLine() const;
  std::string Log() const;
  // The per-connection processes sshd started so far ("User child is on pid
  // N" in its log): killing one drops that client's connection.
  std::vector<pid_t> SessionPids() const;

 private:
  std::string dir_;
  std::string user_;
  std::string authorized_key_file_;
  std::string address_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A loopback TCP port nobody listens on right now.
int FreeLoopbackPort();

}  // namespace mlcube_test

#endif  // MLCUBE_REMOTE_TESTS_INTEGRATION_SSH_TEST_SERVER_H_
