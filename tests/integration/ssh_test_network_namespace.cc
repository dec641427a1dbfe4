#include "tests/integration/ssh_test_network_namespace.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/integration/agent_process.h"

namespace mlcube_test {

SshTestNetworkNamespace::SshTestNetworkNamespace(const std::string& prefix, int index) {
  // Unique per process, so concurrent test runs do not collide.
  const int n = static_cast<int>(getpid() % 250) + 1;
  const std::string tag = index > 0 ? "-" + std::to_string(index) : "";
  name_ = prefix + std::to_string(getpid()) + tag;
  host_veth_ = "mlsh" + std::to_string(getpid()) +
               (index > 0 ? std::string(1, static_cast<char>('a' + index % 26)) : "");
  inside_ = "10." + std::to_string(231 + index % 20) + "." + std::to_string(n) + ".2";
}

SshTestNetworkNamespace::~SshTestNetworkNamespace() {
  if (!created_) return;
  Shell("ip link del " + host_veth_ + " 2>/dev/null");
  Shell("ip netns del " + name_);
}

bool SshTestNetworkNamespace::Create() {
  const std::string subnet = inside_.substr(0, inside_.rfind('.'));
  const std::string inner_veth = host_veth_ + "i";
  const std::string script = "set -e; ip netns add " + name_ + "; ip link add " + host_veth_ +
                             " type veth peer name " + inner_veth + "; ip link set " + inner_veth +
                             " netns " + name_ + "; ip addr add " + subnet + ".1/24 dev " +
                             host_veth_ + "; ip link set " + host_veth_ + " up; ip -n " + name_ +
                             " addr add " + inside_ + "/24 dev " + inner_veth + "; ip -n " + name_ +
                             " link set " + inner_veth + " up; ip -n " + name_ + " link set lo up";
  std::string output;
  created_ = true;  // clean up whatever part was made
  if (Shell("bash -c '" + script + "'", &output) != 0) {
    ADD_FAILURE() << "cannot create network namespace " << name_
                  << " (needs root and iproute2: apt-get install -y iproute2):\n"
                  << output;
    return false;
  }
  return true;
}

}  // namespace mlcube_test
