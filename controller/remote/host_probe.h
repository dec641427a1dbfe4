#ifndef MLCUBE_REMOTE_CONTROLLER_REMOTE_HOST_PROBE_H_
#define MLCUBE_REMOTE_CONTROLLER_REMOTE_HOST_PROBE_H_

// Asks one host's agent who it is (GetInfo) and how far away it is: the
// first call pays for connecting, the second measures one round trip. Used
// by `mlcube-remote hosts` and the dashboard's hosts page.

#include <string>

#include "controller/hosts/hosts_file.h"
#include "controller/transport/agent_connection.h"
#include "mlcube_remote/v1/agent.pb.h"

namespace mlcube {

struct HostReport {
  std::string name;
  // "ssh://HOST" for ssh: hosts, else the agent's address.
  std::string address;
  bool reachable = false;
  // Why the host could not be asked, one line (when !reachable).
  std::string error;
  mlcube_remote::v1::AgentInfo info;
  double round_trip_ms = 0;
};

// Never fails: an unreachable host is a report with `error` set.
HostReport ProbeHost(const HostEntry& host);

// ProbeHost over a connection already open (the dashboard keeps one per
// host).
HostReport ProbeAgent(const HostEntry& host, AgentConnection& connection);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_REMOTE_HOST_PROBE_H_
