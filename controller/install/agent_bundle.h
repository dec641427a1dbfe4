#ifndef MLCUBE_REMOTE_CONTROLLER_INSTALL_AGENT_BUNDLE_H_
#define MLCUBE_REMOTE_CONTROLLER_INSTALL_AGENT_BUNDLE_H_

// The self-contained agent `agent install` uploads:
// mlcube-agent-VERSION-linux-ARCH.tar.gz, made by tools/package-agent.sh
// (the build puts one beside mlcube-remote). VERSION is always this
// controller's own: a controller installs the agent it speaks with.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mlcube {

struct AgentBundle {
  std::string path;
  std::string file_name;
  std::string sha256;  // lowercase hex of the whole file
  int64_t size = 0;
};

// Where to look for bundles besides the controller's own directory; either
// may be empty.
struct AgentBundlePlaces {
  std::string env_dir;         // $MLCUBE_REMOTE_BUNDLE_DIR
  std::string configured_dir;  // the hosts file's agent_bundle_dir
};

// Looks for the bundle of `arch` (`uname -m` of the host: x86_64, aarch64)
// in order: the directory of this controller's binary, `places.env_dir`,
// then `places.configured_dir`. NOT_FOUND names every place it looked and
// how to make the bundle.
absl::StatusOr<AgentBundle> FindAgentBundle(const std::string& arch,
                                            const AgentBundlePlaces& places);

// "mlcube-agent-VERSION-linux-ARCH.tar.gz" for this controller's version.
std::string AgentBundleFileName(const std::string& arch);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_INSTALL_AGENT_BUNDLE_H_
