#ifndef MLCUBE_REMOTE_AGENT_GPUS_GPU_ALLOCATOR_H_
#define MLCUBE_REMOTE_AGENT_GPUS_GPU_ALLOCATOR_H_

// Which job holds which of the host's GPUs. A job that asks for GPUs gets
// specific free devices for as long as it runs, never one another job
// holds: two one-GPU jobs land on two devices, and a job that cannot get
// its devices waits (the caller queues it, with WaitReason). "all" takes
// every device of the host, so it waits until all are free.
//
// Not thread-safe: the job manager calls it under its own lock.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/gpus/gpu_inventory.h"
#include "agent/gpus/gpu_request.h"

namespace mlcube {

class GpuAllocator {
 public:
  explicit GpuAllocator(std::vector<GpuDevice> devices) : devices_(std::move(devices)) {}

  const std::vector<GpuDevice>& devices() const { return devices_; }
  int free_count() const;

  // Whether `request` can ever be met on this host: no more GPUs than it
  // has, devices it has. INVALID_ARGUMENT naming what is missing.
  absl::Status CheckFits(const GpuRequest& request) const;

  // The devices `request` would get now; nullopt when it has to wait.
  // Changes nothing.
  std::optional<std::vector<GpuDevice>> Peek(const GpuRequest& request) const;
  // As Peek, and gives them to `job_id` of `owner`.
  std::optional<std::vector<GpuDevice>> Allocate(const std::string& job_id,
                                                 const std::string& owner,
                                                 const GpuRequest& request);
  // A re-attached job keeps the devices its record names (by index); those
  // no longer in the inventory are dropped. Returns what it holds now.
  std::vector<GpuDevice> Restore(const std::string& job_id, const std::string& owner,
                                 const std::vector<int>& indices);
  // Whatever `job_id` holds becomes free (nothing when it holds none).
  void Release(const std::string& job_id);

  // Devices held by `owner`'s jobs.
  int HeldBy(const std::string& owner) const;
  // The job holding the device with nvidia-smi index `index`; "" if none.
  std::string HolderOf(int index) const;
  // Why `request` of `owner` waits, naming the caller's own jobs and only
  // counting other identities' ("waiting for 2 GPUs: 1 free, held by your
  // job 8d6317c3 and 1 job of another user").
  std::string WaitReason(const std::string& owner, const GpuRequest& request) const;

 private:
  struct Holder {
    std::string job_id;
    std::string owner;
  };
  // Index into devices_ of the device `id` names (index or UUID), or -1.
  int Find(const std::string& id) const;
  std::vector<int> FreePositions() const;

  std::vector<GpuDevice> devices_;
  std::map<int, Holder> held_;  // position in devices_ -> holder
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_GPUS_GPU_ALLOCATOR_H_
