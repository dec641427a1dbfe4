#ifndef MLCUBE_REMOTE_AGENT_GPUS_GPU_FAIR_SHARE_H_
#define MLCUBE_REMOTE_AGENT_GPUS_GPU_FAIR_SHARE_H_

// Which job waiting for GPUs is served next: the identity that holds the
// fewest devices now goes first, with its oldest waiting job; ties go to the
// oldest job. One identity's queued sweep therefore never keeps another's
// single run waiting behind all of it. The caller tries only the job this
// picks: when its devices are not free, no later job takes them (so a job
// asking for many devices is never starved by jobs asking for few).

#include <string>
#include <vector>

#include "agent/gpus/gpu_allocator.h"

namespace mlcube {

// `waiting_owners[i]`: the identity of the i-th waiting job, oldest first.
// Returns the index of the job to serve next, or -1 when none waits.
int NextJobForGpus(const std::vector<std::string>& waiting_owners, const GpuAllocator& allocator);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_GPUS_GPU_FAIR_SHARE_H_
