#ifndef MLCUBE_REMOTE_CONTROLLER_HOSTS_HOSTS_FILE_H_
#define MLCUBE_REMOTE_CONTROLLER_HOSTS_HOSTS_FILE_H_

// The one file of hosts and platform settings that every cube reuses:
//
//   default_host: local
//   hosts:
//     local:
//       address: unix:///run/mlcube-agent/agent.sock
//       runtime: docker            # docker | podman | singularity
//     gpu01:
//       address: gpu01.example.org:7443
//       runtime: singularity
//       singularity: {image_dir: /scratch/mlcube/sif, build_args: --fakeroot}
//       env: {http_proxy: "${oc.env:http_proxy,}"}
//       tls: {ca: ca.pem, cert: me.pem, key: me.key}
//       ssh: {host: gpu01, port: 22, user: me, identity_file: ~/.ssh/id_ed25519}
//       agent_socket: /run/mlcube-agent/agent.sock   # or 127.0.0.1:7443 there
//     hpc:
//       ssh: {host: login.hpc.example.org}  # no agent_socket: your own agent,
//                                           # see `mlcube-remote agent install`
//       address: unix:///scratch/alice/mlcube/agent.sock
//       runtime: singularity
//       scheduler: slurm          # default: local
//       rendezvous_address: 10.0.0.5   # run --nodes: other hosts' ranks reach it here
//       slurm: {partition: gpu, account: proj42, time: "02:00:00", cpus_per_task: 8, mem: 32G}
//   groups:                       # --host=lab runs a sweep over both
//     lab: [gpu01, gpu02]
//   exclude: ["*.ckpt.tmp"]
//   agent_bundle_dir: ~/mlcube-bundles   # where `agent install` finds bundles
//
// Found at --hosts=FILE, else $MLCUBE_REMOTE_HOSTS, else
// $XDG_CONFIG_HOME/mlcube-remote/hosts.yaml (~/.config/...). Without any
// file, one built-in host `local` talks to the agent socket on this machine
// ($MLCUBE_REMOTE_AGENT, else /run/mlcube-agent/agent.sock). Those
// variables are read once, at the entry point, into a HostsLookup. Reading
// a file still takes $HOME for `~/` in paths and the variables it names in
// `${oc.env:NAME}` (unset: empty).

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/transport/host_address.h"

namespace mlcube {

// One host: how to reach its agent (HostAddress: name, address, tls, ssh,
// agent_socket) and how runs on it are configured.
struct HostEntry : HostAddress {
  // "docker", "podman" or "singularity".
  std::string runtime = "docker";
  // Merged under each cube's own settings (see CubeLoadOptions::host_defaults):
  // {docker: {...}, singularity: {...}}.
  YAML::Node platform_defaults;
  std::map<std::string, std::string> env;
  // "local" (the agent's machine) or "slurm" (Slurm batch jobs from the
  // agent's host), and the slurm: settings as KEY -> VALUE (validated).
  std::string scheduler = "local";
  std::map<std::string, std::string> slurm;
  // Where the ranks of a job across hosts on other hosts reach this one
  // (MASTER_ADDR when it is rank 0): a host name or IP address; empty: the
  // host part of `address` (or of ssh.host).
  std::string rendezvous_address;
};

struct HostsFile {
  std::string path;  // empty for the built-in default
  std::string default_host;
  std::map<std::string, HostEntry> hosts;
  // Group name -> its hosts, in the file's order. Groups hold hosts only
  // (no nesting); a group never has a host's name; none is empty.
  std::map<std::string, std::vector<std::string>> groups;
  std::vector<std::string> exclude;
  // Where `agent install` looks for mlcube-agent-VERSION-linux-ARCH.tar.gz
  // (after the controller's own directory); empty when not set.
  std::string agent_bundle_dir;

  // The named host, or the default one when `name` is empty. The error
  // lists the hosts that exist.
  // A group's name is refused here, naming its hosts: commands that talk
  // to one host take one host.
  absl::StatusOr<HostEntry> Find(const std::string& name) const;

  // The hosts `spec` names: one host, a group, or a comma list of both
  // ("gpu01,gpu02", "lab,hpc"); empty: the default host. Each host once, in
  // the order named. INVALID_ARGUMENT / NOT_FOUND naming the bad item.
  absl::StatusOr<std::vector<HostEntry>> Resolve(const std::string& spec) const;
};

// Parses hosts-file text; `path` is used in messages and to resolve relative
// TLS paths.
absl::StatusOr<HostsFile> ParseHostsFile(const std::string& text, const std::string& path);

// Where the hosts file is looked for, and what the environment adds to it.
struct HostsLookup {
  std::string explicit_path;  // --hosts (may be empty)
  std::string env_path;       // $MLCUBE_REMOTE_HOSTS
  std::string config_home;    // $XDG_CONFIG_HOME
  std::string home;           // $HOME
  std::string local_agent;    // $MLCUBE_REMOTE_AGENT: the built-in host's address
  std::string ssh_dir;        // $MLCUBE_REMOTE_SSH_DIR: every ssh: host's SshSettings::config_dir
};

// Finds and loads the hosts file as described above. NOT_FOUND when a file
// named by --hosts or $MLCUBE_REMOTE_HOSTS is missing.
absl::StatusOr<HostsFile> LoadHostsFile(const HostsLookup& lookup);

// LoadHostsFile, then Find(`name`): the host a command talks to. When
// `hosts` is given it receives the whole file (its `exclude` list...).
absl::StatusOr<HostEntry> LoadHost(const HostsLookup& lookup, const std::string& name,
                                   HostsFile* hosts = nullptr);

// The built-in configuration used when there is no hosts file: `local` at
// `local_agent` (empty: /run/mlcube-agent/agent.sock).
HostsFile BuiltInHostsFile(const std::string& local_agent);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_HOSTS_HOSTS_FILE_H_
