#ifndef MLCUBE_REMOTE_AGENT_RUNTIMES_DOCKER_RUNTIME_H_
#define MLCUBE_REMOTE_AGENT_RUNTIMES_DOCKER_RUNTIME_H_

// Docker and Podman (same command line), with the semantics of MLCube's
// docker runner: configure = `build -t IMAGE -f FILE CONTEXT` or `pull`
// (build_strategy pull | auto | always); a task = a named `run --rm`
// container with the MLCube mounts, `--user uid:gid` of the agent's user,
// proxies and the request's env as `-e`, `--gpus` when GPUs are asked.

#include <string>

#include "agent/runtimes/container_runtime.h"

namespace mlcube {

// The --gpus value MLCube's docker runner passes: the request's --gpus when
// given, else platform.accelerator_count when above 0, else none ("").
std::string DockerGpuSpec(int accelerator_count, const std::string& gpus);

// `--memory=`/`--memory-swap=` and `--pids-limit=` for `limits` (none for 0).
void AppendTaskLimits(const StepContext::TaskLimits& limits, std::vector<std::string>* argv);

// The CDI device names Podman takes for a Docker `--gpus` value (`spec` as
// DockerGpuSpec gives it; `devices` the agent allocated, if any), in the
// names `nvidia-ctk cdi generate` gives by default: "nvidia.com/gpu=all",
// "nvidia.com/gpu=INDEX". The allocated devices go by index; a
// "device=A,B" list names its entries as given (an index or a UUID); a
// count N the first N devices, as Docker's `--gpus N`. Empty for "".
std::vector<std::string> PodmanCdiDevices(const std::string& spec,
                                          const std::vector<GpuDevice>& devices);

// How the container engine runs on this host, where that changes the
// command line.
struct EngineHost {
  // Podman run by a user other than root: containers live in that user's
  // user namespace, where the agent's uid is root and other uids are
  // subordinate ones. `--userns=keep-id` maps the agent's uid to itself
  // inside, so a task run as `--user UID:GID` owns its mounts as on the
  // host (its outputs arrive owned by the user, not by a subordinate uid).
  bool rootless = false;
  // Rootless Podman reaches the network through slirp4netns, which needs
  // /dev/net/tun read-write. Without it, builds and tasks run with
  // `--network=none` and the job's log says so and why.
  bool network = true;
  // Podman runs a request for Docker because the host has no Docker (RHEL
  // and Rocky ship Podman alone): the job's log says so.
  bool stands_in_for_docker = false;
  // The engine's API socket tasks are followed through (RuntimeConfig::
  // api_socket); empty: an attached `run` client per task.
  std::string api_socket;
};

// What this process finds for `flavour` ("docker" or "podman"): rootless
// when Podman runs as a uid other than 0; the network as above.
EngineHost DetectEngineHost(const std::string& flavour);

class DockerRuntime final : public ContainerRuntime {
 public:
  // `flavour` is "docker" or "podman"; `binary` its absolute path.
  // `instance` names this agent among others sharing the container engine
  // (a hash of its state directory): its containers carry it, and it
  // freezes and thaws only its own, so agents never undo each other's
  // freezes (ContainerRuntime::FreezeTasksOf).
  DockerRuntime(std::string flavour, std::string binary, std::string instance = "",
                EngineHost host = {})
      : flavour_(std::move(flavour)),
        binary_(std::move(binary)),
        instance_(std::move(instance)),
        host_(host) {}

  std::string name() const override { return flavour_; }
  absl::Status CheckCube(const Cube& cube, const StepContext& context) override;
  bool NeedsConfigure(const Cube& cube, const StepContext& context) override;
  absl::StatusOr<StepCommand> ConfigureCommand(const Cube& cube, const StepContext& context,
                                               std::string* notes) override;
  absl::StatusOr<StepCommand> TaskCommand(const Cube& cube, const TaskInvocation& invocation,
                                          const StepContext& context) override;
  // `chmod -R u+rwX,g+rwX` of the task's own entries in its writable mounts, in
  // its own image, as its uid, without network: the task uid can change
  // nothing but its own files; group bits are the ACL mask, i.e. what the
  // agent gets.
  absl::Status RepairTaskFiles(const Cube& cube, const std::vector<TaskOwnedPaths>& owned,
                               const StepContext& context) override;
  void StopContainer(const std::string& container_name) override;
  std::unique_ptr<FrozenTasks> FreezeTasksOf(const std::string& owner) override;
  bool WaitUntilStarted(const std::string& container_name, absl::Duration timeout,
                        const std::function<bool()>& ended) override;
  void ThawLeftFrozen() override;

  // `docker image inspect IMAGE` succeeds.
  bool ImageExists(const std::string& image) const;

  // The image a job of `context.owner` runs: its own build of the cube's
  // recipe (OwnerImageTag), or the registry image when the cube pulls.
  std::string ImageFor(const Cube& cube, const StepContext& context) const;

 private:
  // The labels every container of this agent carries, as `--label` pairs.
  std::vector<std::string> AgentLabels(const StepContext& context) const;
  // What the engine's host needs on a `run` before the cube's arguments
  // (EngineHost), with a note for the job's log where it changes what the
  // task gets.
  void AppendEngineHostArgs(std::vector<std::string>* argv, std::vector<std::string>* notes) const;
  // `--gpus` for Docker, CDI `--device`s for Podman.
  void AppendGpuArgs(const StepContext& context, const std::string& spec,
                     std::vector<std::string>* argv) const;
  // The registry image's name as this engine pulls it.
  std::string PulledImage(const Cube& cube) const;

  std::string flavour_;
  std::string binary_;
  std::string instance_;
  EngineHost host_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_RUNTIMES_DOCKER_RUNTIME_H_
