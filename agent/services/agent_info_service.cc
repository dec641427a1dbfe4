#include "agent/services/agent_info_service.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include "agent/server/caller_identity.h"
#include "common/grpc_status.h"

namespace mlcube {

grpc::Status AgentInfoService::GetInfo(grpc::ServerContext* context,
                                       const mlcube_remote::v1::GetInfoRequest* request,
                                       mlcube_remote::v1::AgentInfo* response) {
  auto caller = CallerIdentity(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  response->set_agent_version(MLCUBE_REMOTE_VERSION);
  response->set_protocol_version(kProtocolVersion);
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  response->set_hostname(host);
  for (const auto& runtime : inventory_.runtimes()) {
    auto* r = response->add_runtimes();
    r->set_name(runtime.name);
    r->set_version(runtime.version);
    r->set_binary(runtime.binary);
  }
  for (const GpuDevice& gpu : inventory_.gpus()) response->add_gpus(gpu.ListLine());
  response->set_gpus_allocated(true);
  response->set_limit_task_memory_bytes(config_.limits.task_memory);
  response->set_limit_task_pids(config_.limits.task_pids);
  response->set_gpus_free(jobs_->FreeGpus());
  struct statvfs vfs {};
  if (statvfs(config_.state_dir.c_str(), &vfs) == 0) {
    response->set_state_dir_free_bytes(static_cast<int64_t>(vfs.f_bavail) * vfs.f_frsize);
  }
  response->set_caller_identity(*caller);
  response->set_max_payload_bytes(kMaxPayloadBytes);
  response->set_caller_stored_bytes(quota_->RecentBytesOf(*caller));
  response->set_limit_stored_bytes(config_.limits.stored_bytes);
  response->set_limit_running_jobs(config_.limits.running_jobs);
  response->set_limit_open_streams(config_.limits.open_streams);
  return grpc::Status::OK;
}

}  // namespace mlcube
