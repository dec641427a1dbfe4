#ifndef MLCUBE_REMOTE_AGENT_CONFIG_HOST_ACCESS_POLICY_H_
#define MLCUBE_REMOTE_AGENT_CONFIG_HOST_ACCESS_POLICY_H_

// Host access the agent's admin grants every cube on this agent (the
// `allow:` section of agent.yaml). The defaults grant none: that is what a
// shared agent must run with. RunArgumentPolicy reads it when it checks a
// cube's extra runtime arguments.

#include <string>
#include <vector>

namespace mlcube {

// A host directory the admin lets cubes bind (e.g. a shared dataset
// directory). Whatever lies below it, symlinks included, is then reachable:
// pick directories whose contents the cube owners cannot change.
struct HostBindRoot {
  std::string host_dir;   // absolute, normalised, no trailing slash
  bool writable = false;  // false: a bind below it must say "ro"
};

struct HostAccessPolicy {
  bool allow_host_network = false;       // docker --network=host
  bool allow_host_ipc = false;           // docker --ipc=host
  bool allow_host_pid = false;           // docker --pid=host
  bool allow_published_ports = false;    // docker -p/--publish, -P/--publish-all
  std::vector<HostBindRoot> bind_roots;  // docker -v, apptainer -B below these
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_CONFIG_HOST_ACCESS_POLICY_H_
