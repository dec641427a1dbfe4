#ifndef MLCUBE_REMOTE_AGENT_AGENT_INFO_SERVICE_H_
#define MLCUBE_REMOTE_AGENT_AGENT_INFO_SERVICE_H_

// The Agent service: who the agent is, what it can run, who is asking.

#include <cstdint>
#include <functional>
#include <string>

#include "agent/agent_config.h"
#include "agent/runtime_inventory.h"
#include "mlcube_remote/v1/agent.grpc.pb.h"

namespace mlcube {

// Bumped only on incompatible changes of the mlcube_remote.v1 package.
inline constexpr int kProtocolVersion = 1;
inline constexpr int64_t kMaxPayloadBytes = 1 << 20;

class AgentInfoService final : public mlcube_remote::v1::Agent::Service {
 public:
  // Both must outlive the service.
  AgentInfoService(const AgentConfig& config, const RuntimeInventory& inventory)
      : config_(config), inventory_(inventory) {}

  grpc::Status GetInfo(grpc::ServerContext* context,
                       const mlcube_remote::v1::GetInfoRequest* request,
                       mlcube_remote::v1::AgentInfo* response) override;

 public:
  // How many bytes an identity stores (StorageQuota). Set once at start-up.
  void SetStoredBytesLookup(std::function<int64_t(const std::string&)> lookup) {
    stored_bytes_of_ = std::move(lookup);
  }

 private:
  const AgentConfig& config_;
  const RuntimeInventory& inventory_;
  std::function<int64_t(const std::string&)> stored_bytes_of_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_AGENT_INFO_SERVICE_H_
