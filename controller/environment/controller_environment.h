#ifndef MLCUBE_REMOTE_CONTROLLER_ENVIRONMENT_CONTROLLER_ENVIRONMENT_H_
#define MLCUBE_REMOTE_CONTROLLER_ENVIRONMENT_CONTROLLER_ENVIRONMENT_H_

// The environment variables that configure mlcube-remote, read once by the
// entry point (main) and passed down as options; no module reads these
// itself. README.md ("Environment variables") lists every variable the
// controller reads, these and the ones read where they are used.

#include <optional>
#include <string>

#include "controller/hosts/hosts_file.h"

namespace mlcube {

struct ControllerEnvironment {
  // MLCUBE_REMOTE_HOSTS, MLCUBE_REMOTE_AGENT, MLCUBE_REMOTE_SSH_DIR,
  // XDG_CONFIG_HOME, HOME (explicit_path is left to --hosts).
  HostsLookup hosts;
  // MLCUBE_REMOTE_BUNDLE_DIR: where `agent install` also looks for bundles.
  std::string bundle_dir;
  // MLCUBE_REMOTE_SYNC_FEATURES: when set, the only protocol features a
  // push uses (comma-separated; "" for none), to compare with the plain
  // protocol.
  std::optional<std::string> sync_features;
  // NO_COLOR set and not empty: no colour in messages, even on a terminal.
  bool no_color = false;
};

// Reads the variables above from the process environment (unset and empty
// are the same, except for MLCUBE_REMOTE_SYNC_FEATURES).
ControllerEnvironment ReadControllerEnvironment();

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_ENVIRONMENT_CONTROLLER_ENVIRONMENT_H_
