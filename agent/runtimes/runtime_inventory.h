#ifndef MLCUBE_REMOTE_AGENT_RUNTIMES_RUNTIME_INVENTORY_H_
#define MLCUBE_REMOTE_AGENT_RUNTIMES_RUNTIME_INVENTORY_H_

// What this host can run: the container runtimes found (with versions) and
// the GPUs. Detected once at start-up by running `BINARY --version` and
// nvidia-smi (ReadGpuInventory); a runtime that is not installed is simply
// absent.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/config/agent_config.h"
#include "agent/gpus/gpu_inventory.h"

namespace mlcube {

struct DetectedRuntime {
  // "docker", "podman", "apptainer" or "singularity": the flavour the
  // binary reports (a `singularity` that is really Apptainer is "apptainer").
  std::string name;
  std::string version;
  std::string binary;      // absolute path
  std::string api_socket;  // RuntimeConfig::api_socket
};

class RuntimeInventory {
 public:
  // An error only when the config's GPU list does not match the host.
  static absl::StatusOr<RuntimeInventory> Detect(const AgentConfig& config);

  // For tests and callers that know what they have.
  RuntimeInventory(std::vector<DetectedRuntime> runtimes, std::vector<GpuDevice> gpus)
      : runtimes_(std::move(runtimes)), gpus_(std::move(gpus)) {}

  const std::vector<DetectedRuntime>& runtimes() const { return runtimes_; }
  const std::vector<GpuDevice>& gpus() const { return gpus_; }

  // The runtime of that name, or nullptr.
  const DetectedRuntime* Find(absl::string_view name) const;
  // Apptainer when present, else SingularityCE, else nullptr.
  const DetectedRuntime* FindSingularity() const;

 private:
  std::vector<DetectedRuntime> runtimes_;
  std::vector<GpuDevice> gpus_;
};

// Parses `--version` output: "Docker version 20.10.24+dfsg1, build 297e128",
// "podman version 4.3.1", "apptainer version 1.4.5", "singularity-ce version
// 3.11.4". Returns false when the text is none of these.
bool ParseRuntimeVersion(const std::string& output, std::string* name, std::string* version);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_RUNTIMES_RUNTIME_INVENTORY_H_
