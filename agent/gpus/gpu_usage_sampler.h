#ifndef MLCUBE_REMOTE_AGENT_GPUS_GPU_USAGE_SAMPLER_H_
#define MLCUBE_REMOTE_AGENT_GPUS_GPU_USAGE_SAMPLER_H_

// Samples the host's GPUs (utilisation and memory used, from the same
// nvidia-smi query as the inventory) every few seconds on a thread of its
// own, while some job holds a device, and hands each sample to a sink (the
// job manager adds it to the holding job's usage).

#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace mlcube {

struct GpuSample {
  int index = 0;
  int utilization_percent = 0;
  int64_t memory_used_mib = 0;
};

// One nvidia-smi query: every GPU's index, utilisation and memory used.
absl::StatusOr<std::vector<GpuSample>> SampleGpus(const std::string& nvidia_smi);

class GpuUsageSampler {
 public:
  using Sink = std::function<void(const std::vector<GpuSample>&)>;

  // Every `interval`, when `wanted()` (some device is held), samples with
  // `nvidia_smi` and calls `sink` (on the sampler's thread). A failed query
  // is skipped.
  GpuUsageSampler(std::string nvidia_smi, absl::Duration interval, std::function<bool()> wanted,
                  Sink sink);
  ~GpuUsageSampler();  // stops the thread and waits for it
  GpuUsageSampler(const GpuUsageSampler&) = delete;
  GpuUsageSampler& operator=(const GpuUsageSampler&) = delete;

 private:
  void Loop();

  const std::string nvidia_smi_;
  const absl::Duration interval_;
  std::function<bool()> wanted_;
  Sink sink_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_GPUS_GPU_USAGE_SAMPLER_H_
