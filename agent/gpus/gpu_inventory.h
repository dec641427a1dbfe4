#ifndef MLCUBE_REMOTE_AGENT_GPUS_GPU_INVENTORY_H_
#define MLCUBE_REMOTE_AGENT_GPUS_GPU_INVENTORY_H_

// The GPUs of this host, as nvidia-smi reports them:
//
//   nvidia-smi --query-gpu=index,uuid,name,memory.total,utilization.gpu,memory.used
//              --format=csv,noheader,nounits
//
// falling back to `nvidia-smi -L` ("GPU 0: NAME (UUID: GPU-...)") where the
// query is not supported. The admin may restrict them in agent.yaml
// (`gpus: {devices: [0, 1]}`, `devices: []` for none) and name the binary
// (`gpus: {nvidia_smi: /path}`).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/config/agent_config.h"

namespace mlcube {

struct GpuDevice {
  int index = 0;           // nvidia-smi's (PCI bus order)
  std::string uuid;        // "GPU-..."; empty when nvidia-smi did not say
  std::string name;        // "NVIDIA H100 80GB HBM3"
  int64_t memory_mib = 0;  // total; 0 when unknown
  // The `nvidia-smi -L` line for it (what GetInfo lists).
  std::string ListLine() const;
};

// Parses the --query-gpu CSV above (no header, no units). Lines that are not
// six fields with a numeric index are an error naming the line.
absl::StatusOr<std::vector<GpuDevice>> ParseNvidiaSmiQuery(const std::string& csv);
// Parses `nvidia-smi -L` output; lines not starting "GPU N:" are skipped.
std::vector<GpuDevice> ParseNvidiaSmiList(const std::string& text);

// Runs nvidia-smi as `config` says and applies its device list. No
// nvidia-smi on the host: no GPUs (OK). A device the config names that
// nvidia-smi does not list is an error naming it.
absl::StatusOr<std::vector<GpuDevice>> ReadGpuInventory(const GpuConfig& config);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_GPUS_GPU_INVENTORY_H_
