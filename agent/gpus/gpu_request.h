#ifndef MLCUBE_REMOTE_AGENT_GPUS_GPU_REQUEST_H_
#define MLCUBE_REMOTE_AGENT_GPUS_GPU_REQUEST_H_

// What a job asks of the host's GPUs: the request's --gpus when given
// ("all", a count, or device=ID,... with indices or UUIDs), else the cube's
// platform.accelerator_count when above 0 (as MLCube's runners decide),
// else nothing.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mlcube {

struct GpuRequest {
  enum class Kind { kNone, kCount, kAll, kDevices };
  Kind kind = Kind::kNone;
  int count = 0;                 // kCount
  std::vector<std::string> ids;  // kDevices: indices or UUIDs, as asked

  bool empty() const { return kind == Kind::kNone; }
  // "1 GPU", "2 GPUs", "all GPUs", "GPUs 0,2".
  std::string Describe() const;
};

// INVALID_ARGUMENT naming `gpus` when it is none of the forms above.
absl::StatusOr<GpuRequest> ParseGpuRequest(const std::string& gpus, int accelerator_count);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_GPUS_GPU_REQUEST_H_
