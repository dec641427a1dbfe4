#include "agent/gpus/gpu_allocator.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mlcube {

int GpuAllocator::free_count() const {
  return static_cast<int>(devices_.size()) - static_cast<int>(held_.size());
}

int GpuAllocator::Find(const std::string& id) const {
  for (size_t i = 0; i < devices_.size(); ++i) {
    if (std::to_string(devices_[i].index) == id ||
        (!devices_[i].uuid.empty() && devices_[i].uuid == id)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

std::vector<int> GpuAllocator::FreePositions() const {
  std::vector<int> free;
  for (size_t i = 0; i < devices_.size(); ++i) {
    if (held_.count(static_cast<int>(i)) == 0) free.push_back(static_cast<int>(i));
  }
  return free;
}

absl::Status GpuAllocator::CheckFits(const GpuRequest& request) const {
  const size_t total = devices_.size();
  switch (request.kind) {
    case GpuRequest::Kind::kNone:
      return absl::OkStatus();
    case GpuRequest::Kind::kAll:
      if (total > 0) return absl::OkStatus();
      break;
    case GpuRequest::Kind::kCount:
      if (static_cast<size_t>(request.count) <= total) return absl::OkStatus();
      break;
    case GpuRequest::Kind::kDevices: {
      std::set<int> seen;
      for (const std::string& id : request.ids) {
        const int at = Find(id);
        if (at < 0) {
          return absl::InvalidArgumentError(absl::StrCat(
              "gpus: this host has no GPU ", id, " (it has ", total, total == 1 ? " GPU" : " GPUs",
              total > 0 ? absl::StrCat(": ", devices_.front().index, "-", devices_.back().index)
                        : "",
              ")"));
        }
        if (!seen.insert(at).second) {
          return absl::InvalidArgumentError(absl::StrCat("gpus: GPU ", id, " is named twice"));
        }
      }
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("the job asks for ", request.Describe(),
                                                 " and this host has ", total,
                                                 total == 1 ? " GPU" : " GPUs"));
}

std::optional<std::vector<GpuDevice>> GpuAllocator::Peek(const GpuRequest& request) const {
  std::vector<int> chosen;
  const std::vector<int> free = FreePositions();
  switch (request.kind) {
    case GpuRequest::Kind::kNone:
      return std::vector<GpuDevice>{};
    case GpuRequest::Kind::kAll:
      if (!held_.empty() || devices_.empty()) return std::nullopt;
      chosen = free;
      break;
    case GpuRequest::Kind::kCount:
      if (free.size() < static_cast<size_t>(request.count)) return std::nullopt;
      chosen.assign(free.begin(), free.begin() + request.count);
      break;
    case GpuRequest::Kind::kDevices:
      for (const std::string& id : request.ids) {
        const int at = Find(id);
        if (at < 0 || held_.count(at) > 0) return std::nullopt;
        chosen.push_back(at);
      }
      break;
  }
  std::vector<GpuDevice> out;
  for (int at : chosen) out.push_back(devices_[at]);
  return out;
}

std::optional<std::vector<GpuDevice>> GpuAllocator::Allocate(const std::string& job_id,
                                                             const std::string& owner,
                                                             const GpuRequest& request) {
  std::optional<std::vector<GpuDevice>> chosen = Peek(request);
  if (!chosen.has_value()) return std::nullopt;
  for (const GpuDevice& device : *chosen)
    held_[Find(std::to_string(device.index))] = {job_id, owner};
  return chosen;
}

std::vector<GpuDevice> GpuAllocator::Restore(const std::string& job_id, const std::string& owner,
                                             const std::vector<int>& indices) {
  std::vector<GpuDevice> kept;
  for (int index : indices) {
    const int at = Find(std::to_string(index));
    if (at < 0) continue;
    held_[at] = {job_id, owner};
    kept.push_back(devices_[at]);
  }
  return kept;
}

void GpuAllocator::Release(const std::string& job_id) {
  for (auto it = held_.begin(); it != held_.end();) {
    it = it->second.job_id == job_id ? held_.erase(it) : std::next(it);
  }
}

int GpuAllocator::HeldBy(const std::string& owner) const {
  int count = 0;
  for (const auto& [at, holder] : held_) count += holder.owner == owner ? 1 : 0;
  return count;
}

std::string GpuAllocator::HolderOf(int index) const {
  const int at = Find(std::to_string(index));
  auto it = held_.find(at);
  return it == held_.end() ? "" : it->second.job_id;
}

std::string GpuAllocator::WaitReason(const std::string& owner, const GpuRequest& request) const {
  std::set<std::string> yours;
  std::set<std::string> others;
  for (const auto& [at, holder] : held_) {
    (holder.owner == owner ? yours : others).insert(holder.job_id);
  }
  std::vector<std::string> parts;
  if (!yours.empty()) {
    parts.push_back(
        absl::StrCat(yours.size() == 1 ? "your job " : "your jobs ", absl::StrJoin(yours, ", ")));
  }
  if (!others.empty()) {
    parts.push_back(absl::StrCat(
        others.size(), others.size() == 1 ? " job of another user" : " jobs of other users"));
  }
  std::string reason =
      absl::StrCat("waiting for ", request.Describe(), ": ", free_count(), " free");
  if (!parts.empty()) absl::StrAppend(&reason, ", held by ", absl::StrJoin(parts, " and "));
  return reason;
}

}  // namespace mlcube
