#ifndef MLCUBE_REMOTE_AGENT_SERVICES_AGENT_INFO_SERVICE_H_
#define MLCUBE_REMOTE_AGENT_SERVICES_AGENT_INFO_SERVICE_H_

// The Agent service: who the agent is, what it can run, who is asking.

#include <cstdint>
#include <functional>
#include <string>

#include "agent/cas/storage_quota.h"
#include "agent/config/agent_config.h"
#include "agent/jobs/job_manager.h"
#include "agent/runtimes/runtime_inventory.h"
#include "mlcube_remote/v1/agent.grpc.pb.h"

namespace mlcube {

// Bumped only on incompatible changes of the mlcube_remote.v1 package.
inline constexpr int kProtocolVersion = 1;
inline constexpr int64_t kMaxPayloadBytes = 1 << 20;

class AgentInfoService final : public mlcube_remote::v1::Agent::Service {
 public:
  // All must outlive the service; `quota` says what each identity stores,
  // `jobs` which GPUs are free.
  AgentInfoService(const AgentConfig& config, const RuntimeInventory& inventory,
                   StorageQuota* quota, JobManager* jobs)
      : config_(config), inventory_(inventory), quota_(quota), jobs_(jobs) {}

  grpc::Status GetInfo(grpc::ServerContext* context,
                       const mlcube_remote::v1::GetInfoRequest* request,
                       mlcube_remote::v1::AgentInfo* response) override;

 private:
  const AgentConfig& config_;
  const RuntimeInventory& inventory_;
  StorageQuota* quota_;
  JobManager* jobs_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SERVICES_AGENT_INFO_SERVICE_H_
