#ifndef MLCUBE_REMOTE_TESTS_INTEGRATION_SSH_TEST_NETWORK_NAMESPACE_H_
#define MLCUBE_REMOTE_TESTS_INTEGRATION_SSH_TEST_NETWORK_NAMESPACE_H_

// A second "host" on this machine for the SSH tests: a network namespace
// joined to this one by a veth pair on a private /24 that exists only
// between the two (10.X.N.1 here, 10.X.N.2 inside; X is 231 + index).
// Deleted, with its veth pair, when the object dies.

#include <string>

namespace mlcube_test {

class SshTestNetworkNamespace {
 public:
  // Named PREFIX + pid, plus "-" + index for index > 0: several per
  // process, each on its own /24.
  explicit SshTestNetworkNamespace(const std::string& prefix = "mlcube-ssh-", int index = 0);
  ~SshTestNetworkNamespace();
  SshTestNetworkNamespace(const SshTestNetworkNamespace&) = delete;
  SshTestNetworkNamespace& operator=(const SshTestNetworkNamespace&) = delete;

  // Creates it; adds a test failure saying what failed and returns false.
  bool Create();

  const std::string& name() const { return name_; }
  // The namespace's own address, reachable from here.
  const std::string& inside_address() const { return inside_; }
  // The veth end inside the namespace (down: the host drops off the net).
  std::string inside_veth() const { return host_veth_ + "i"; }

 private:
  std::string name_;
  std::string host_veth_;
  std::string inside_;
  bool created_ = false;
};

}  // namespace mlcube_test

#endif  // MLCUBE_REMOTE_TESTS_INTEGRATION_SSH_TEST_NETWORK_NAMESPACE_H_
