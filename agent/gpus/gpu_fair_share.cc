#include "agent/gpus/gpu_fair_share.h"

#include <map>

namespace mlcube {

int NextJobForGpus(const std::vector<std::string>& waiting_owners, const GpuAllocator& allocator) {
  int next = -1;
  int fewest = 0;
  std::map<std::string, int> held;  // HeldBy once per identity
  for (size_t i = 0; i < waiting_owners.size(); ++i) {
    auto [it, added] = held.try_emplace(waiting_owners[i], 0);
    if (!added) continue;  // an older job of this identity came first
    it->second = allocator.HeldBy(waiting_owners[i]);
    if (next < 0 || it->second < fewest) {
      next = static_cast<int>(i);
      fewest = it->second;
    }
  }
  return next;
}

}  // namespace mlcube
