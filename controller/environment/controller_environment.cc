#include "controller/environment/controller_environment.h"

#include <cstdlib>

namespace mlcube {
namespace {

std::string Variable(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

}  // namespace

ControllerEnvironment ReadControllerEnvironment() {
  ControllerEnvironment env;
  env.hosts.env_path = Variable("MLCUBE_REMOTE_HOSTS");
  env.hosts.local_agent = Variable("MLCUBE_REMOTE_AGENT");
  env.hosts.ssh_dir = Variable("MLCUBE_REMOTE_SSH_DIR");
  env.hosts.config_home = Variable("XDG_CONFIG_HOME");
  env.hosts.home = Variable("HOME");
  env.bundle_dir = Variable("MLCUBE_REMOTE_BUNDLE_DIR");
  env.no_color = !Variable("NO_COLOR").empty();
  if (const char* features = std::getenv("MLCUBE_REMOTE_SYNC_FEATURES")) {
    env.sync_features = features;
  }
  return env;
}

}  // namespace mlcube
