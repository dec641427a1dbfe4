#ifndef MLCUBE_REMOTE_AGENT_METRICS_AGENT_METRICS_H_
#define MLCUBE_REMOTE_AGENT_METRICS_AGENT_METRICS_H_

// Everything the agent's `GET /metrics` shows, gathered at each scrape:
// build info, process series, jobs by state and finished (JobStatistics),
// GPUs allocated and free, runtime health, free bytes of the state
// directory, stored bytes per identity (only where the admin enables it),
// gRPC calls and sync bytes (RpcMetrics). The sources are functions, so this
// module depends on no other agent module.

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "agent/metrics/job_statistics.h"
#include "agent/metrics/rpc_metrics.h"

namespace mlcube {

struct AgentMetricSources {
  // Jobs the agent knows, by state ("running", ...).
  std::function<std::map<std::string, int>()> jobs_by_state;
  std::function<int()> gpus_total;
  std::function<int()> gpus_free;
  // Each configured runtime: whether this host has it working.
  std::function<std::map<std::string, bool>()> runtimes_up;
  // The state directory: its filesystem's free bytes are shown.
  std::string state_dir;
  // Stored bytes by identity; empty: not shown (the default).
  std::function<std::map<std::string, int64_t>()> stored_bytes_by_identity;
};

class AgentMetrics {
 public:
  explicit AgentMetrics(AgentMetricSources sources) : sources_(std::move(sources)) {}

  RpcMetrics& rpc() { return rpc_; }
  JobStatistics& job_statistics() { return job_statistics_; }

  // The whole exposition, in Prometheus' text format.
  std::string Collect() const;

 private:
  void WriteJobs(PrometheusText* out) const;
  void WriteHost(PrometheusText* out) const;

  const AgentMetricSources sources_;
  RpcMetrics rpc_;
  JobStatistics job_statistics_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_METRICS_AGENT_METRICS_H_
