#ifndef MLCUBE_REMOTE_CONTROLLER_TRANSPORT_HOST_ADDRESS_H_
#define MLCUBE_REMOTE_CONTROLLER_TRANSPORT_HOST_ADDRESS_H_

// How to reach one host's agent: its address, mutual TLS, or the SSH
// session a tunnel goes through. The hosts file (controller/hosts) fills it
// in, with the run configuration of the host beside it.

#include <string>

namespace mlcube {

struct TlsSettings {
  std::string ca;  // absolute paths
  std::string cert;
  std::string key;
};

struct SshSettings {
  std::string host;  // may be a ~/.ssh/config alias
  int port = 0;      // 0: from ssh config, else 22
  std::string user;
  std::string identity_file;
  // Replaces ~/.ssh (config, known_hosts, default keys) when set: for tests
  // and for users who keep a separate SSH setup for their compute hosts.
  std::string config_dir;
};

struct HostAddress {
  std::string name;
  // unix:///path or HOST:PORT.
  std::string address;
  bool has_tls = false;
  TlsSettings tls;
  bool has_ssh = false;
  SshSettings ssh;
  // The remote socket reached through ssh; empty: the user's own agent.
  std::string agent_socket;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_TRANSPORT_HOST_ADDRESS_H_
