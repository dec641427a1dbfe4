#ifndef MLCUBE_REMOTE_AGENT_CONFIG_AGENT_CONFIG_H_
#define MLCUBE_REMOTE_AGENT_CONFIG_AGENT_CONFIG_H_

// The agent's configuration: a YAML file (/etc/mlcube-agent/agent.yaml) whose
// values command-line flags override. Every key is known: an unknown key or a
// bad value is an error that names it, so a typo never silently falls back to
// a default.
//
//   listen: [unix:///run/mlcube-agent/agent.sock, 127.0.0.1:7443]
//   state_dir: /var/lib/mlcube-agent
//   image_dir: /var/lib/mlcube-agent/images    # SIF files, outside workspaces
//   max_concurrent_jobs: 2
//   runtimes:
//     docker: {enabled: true, binary: docker, api_socket: /var/run/docker.sock}
//     podman: {enabled: true, binary: podman}
//     apptainer: {enabled: true, binary: apptainer}
//     singularity: {enabled: true, binary: singularity}
//   unix_socket: {mode: "0660", group: mlcube-users}  # who may connect at all
//   tls: {ca: /etc/mlcube-agent/ca.pem, cert: /etc/mlcube-agent/server.pem,
//         key: /etc/mlcube-agent/server.key}   # mutual TLS on every TCP address
//   limits:                                    # per identity; 0 = no limit
//     running_jobs: 1           # more of one identity's jobs wait in the queue
//     queued_jobs: 1000         # jobs waiting; more are refused at submit
//     stored_bytes: 50G         # its workspaces, uploads and uploaded blobs
//     open_streams: 64          # streaming calls at once (watch, upload, read)
//     connections: 256          # connections open at once (per uid or certificate)
//     idle_connection_seconds: 300  # a connection without calls is closed after
//     job_log_bytes: 256M       # one job's log keeps its latest output up to this
//     finished_jobs_kept_days: 30   # finished jobs' records and logs are removed after
//     finished_jobs_kept: 1000      # ... and beyond the newest this many
//   allow:                                     # host access cubes may ask for
//     host_network: false       # docker --network=host
//     host_ipc: false           # docker --ipc=host
//     host_pid: false           # docker --pid=host
//     published_ports: false    # docker -p / -P
//     bind_roots: [{path: /datasets, writable: false}]  # extra binds below these
//   gpus:                                      # the GPUs jobs are given
//     devices: [0, 1]           # nvidia-smi indices; [] = none; absent = all listed
//     nvidia_smi: nvidia-smi    # a name looked up in PATH, or a path
//     sample_seconds: 5         # how often the GPUs jobs hold are sampled
//   task_users:                                # uids that certificate identities' tasks run as
//     map: {cn-alice: 2001}     # fixed uids
//     owners: [cn-admin]        # run as the agent itself (Apptainer, Slurm)
//     pool: "200000-200999"     # others get one on first use (kept in STATE)

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/config/host_access_policy.h"

namespace mlcube {

// Where Docker serves its API unless told otherwise.
inline constexpr char kDefaultDockerSocket[] = "/var/run/docker.sock";

struct RuntimeConfig {
  bool enabled = true;
  std::string binary;  // a name looked up in PATH, or a path
  // Docker only: the engine's API socket. A task's container is created
  // with the CLI, then attached, started and waited for through this
  // socket, so no client process stays per running task. Empty: each task
  // runs under an attached `docker run` client. (Not offered for Podman:
  // its compatible API starts a created container on attach, so a wait
  // cannot be registered before the start.)
  std::string api_socket;
};

// Mutual TLS for TCP listen addresses (see agent/tls_server_credentials.h).
// Absolute paths; all three or none.
struct AgentTlsConfig {
  std::string ca;    // clients' certificates must be signed by this CA
  std::string cert;  // the agent's certificate chain
  std::string key;   // its private key (mode 0600)
  bool enabled() const { return !cert.empty(); }
};

// What one identity may use at once on a shared host (0: no limit).
struct IdentityLimits {
  int running_jobs = 0;
  // Jobs waiting to start (QUEUED); a submit (a whole batch) that would pass
  // it is refused.
  int queued_jobs = 1000;
  int64_t stored_bytes = 0;
  int open_streams = 64;
  // Connections one caller holds open at once; more are refused: per uid on
  // unix sockets, per certificate identity on TCP (per source address until
  // a connection's first call).
  int connections = 256;
  // A connection with no call for this long is closed (all identities).
  int idle_connection_seconds = 300;
  // One job's log: past it the oldest output is cut (JobLog).
  int64_t job_log_bytes = int64_t{256} << 20;
  // Finished jobs (records and logs) are removed after this many days, and
  // beyond this many per identity; 0: kept.
  int finished_jobs_kept_days = 30;
  int finished_jobs_kept = 1000;
  // Every task's container: memory in bytes and processes (threads count)
  // it may use; 0 = no limit. Docker and Podman always get them; Apptainer
  // only when the config file sets them (unprivileged Apptainer applies them
  // only with cgroups v2 and systemd, and fails the task without).
  int64_t task_memory = 0;
  int task_pids = 16384;
  bool task_limits_set = false;
};

// The uids tasks of certificate (cn-) identities run as on a shared agent
// (see TaskUserResolver). Unix-socket and SSH identities run as their own uid.
struct TaskUsersConfig {
  // "cn-NAME" -> uid (never 0).
  std::map<std::string, uint32_t> map;
  // "cn-NAME"s that are the agent's owner: their tasks run as the agent's
  // own uid, with its access to every identity's data. Said here, never by
  // mapping an identity to the agent's uid (refused: too easy a slip).
  std::vector<std::string> owners;
  // An inclusive range of uids for identities the map does not name; 0/0 =
  // no pool.
  uint32_t pool_first = 0;
  uint32_t pool_last = 0;
  bool has_pool() const { return pool_first != 0; }
};

// The GPUs the agent hands out (see agent/gpus/gpu_inventory.h).
struct GpuConfig {
  std::string nvidia_smi = "nvidia-smi";
  // Unset: every GPU nvidia-smi lists; set: only these indices (none when
  // empty).
  std::optional<std::vector<int>> devices;
  // How often the devices jobs hold are sampled (utilisation, memory).
  int sample_seconds = 5;
};

// The Prometheus endpoint (agent/metrics/): off unless `listen` is set.
struct MetricsConfig {
  // "HOST:PORT" of `GET /metrics`; empty: none.
  std::string listen;
  // Stored bytes per identity, labelled with the identity's name: off by
  // default (names of people, and a measure of every identity's files).
  bool identity_labels = false;
};

struct AgentConfig {
  std::vector<std::string> listen = {"unix:///run/mlcube-agent/agent.sock"};
  std::string state_dir = "/var/lib/mlcube-agent";
  // Empty: STATE/images.
  std::string image_dir;
  int max_concurrent_jobs = 2;
  // The agent's own log: auto, text, json or journal (agent/log/).
  std::string log_format = "auto";
  // Keyed by "docker", "podman", "apptainer", "singularity".
  std::map<std::string, RuntimeConfig> runtimes = {
      {"docker", {true, "docker", kDefaultDockerSocket}},
      {"podman", {true, "podman", ""}},
      {"apptainer", {true, "apptainer", ""}},
      {"singularity", {true, "singularity", ""}},
  };

  IdentityLimits limits;
  // What a cube's extra runtime arguments may ask of the host (none by
  // default).
  HostAccessPolicy allow;
  TaskUsersConfig task_users;
  GpuConfig gpus;
  MetricsConfig metrics;

  AgentTlsConfig tls;
  // Mode (octal) and group (empty: the agent's) of unix listen sockets.
  // Callers are identified by uid either way; these decide who may call.
  int unix_socket_mode = 0666;
  std::string unix_socket_group;
  // Plain TCP on loopback, for tests: only the --insecure flag sets it, never
  // the file, and never for a non-loopback address.
  bool insecure = false;
  // Slurm: a directory on the filesystem the compute nodes share, holding
  // state_dir and image_dir; "" = this agent runs no Slurm jobs.
  std::string slurm_shared_dir;
  // Where `run --stage=PATH` may copy from, besides slurm_shared_dir.
  std::vector<std::string> slurm_stage_roots;

  // The image dir with its default applied.
  std::string EffectiveImageDir() const;
};

// Parses YAML text over the defaults. Errors are INVALID_ARGUMENT naming the
// key, e.g. "agent.yaml: max_concurrent_jobs: expected a positive integer".
absl::StatusOr<AgentConfig> ParseAgentConfig(const std::string& yaml_text,
                                             const std::string& file_name = "agent.yaml");

// Reads and parses a file; NOT_FOUND when it does not exist.
absl::StatusOr<AgentConfig> LoadAgentConfigFile(const std::string& path);

// Start-up check of slurm.shared_dir (after flags): state_dir and image_dir
// must be inside it (INVALID_ARGUMENT); FAILED_PRECONDITION when it is in
// memory (tmpfs); OK with a `note` when it is a local disk (the compute
// nodes of a real cluster would not see it), OK alone for network
// filesystems (NFS, Lustre, GPFS, BeeGFS, CephFS, ...).
absl::Status CheckSlurmSharedDir(const AgentConfig& config, std::string* note);

// Checks the values that flags may also set (paths absolute, addresses well
// formed, no bind root that exposes the state dir).
absl::Status ValidateAgentConfig(const AgentConfig& config);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_CONFIG_AGENT_CONFIG_H_
