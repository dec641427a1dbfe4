#include "agent/metrics/agent_metrics.h"

#include <sys/statvfs.h>

#include "agent/metrics/process_metrics.h"

namespace mlcube {

std::string AgentMetrics::Collect() const {
  PrometheusText out;
  out.Family("mlcube_agent_build_info", "gauge",
             "The agent's version and source revision (always 1).");
  out.Sample("mlcube_agent_build_info",
             {{"version", MLCUBE_REMOTE_VERSION}, {"revision", MLCUBE_REMOTE_REVISION}}, 1);
  WriteProcessMetrics(&out);
  WriteJobs(&out);
  WriteHost(&out);
  rpc_.Write(&out);
  return out.text();
}

void AgentMetrics::WriteJobs(PrometheusText* out) const {
  out->Family("mlcube_agent_jobs", "gauge",
              "Jobs the agent knows now (finished ones it keeps included), by state.");
  if (sources_.jobs_by_state) {
    for (const auto& [state, count] : sources_.jobs_by_state()) {
      out->Sample("mlcube_agent_jobs", {{"state", state}}, count);
    }
  }
  job_statistics_.Write(out);
}

void AgentMetrics::WriteHost(PrometheusText* out) const {
  if (sources_.gpus_total && sources_.gpus_free) {
    const int total = sources_.gpus_total(), free = sources_.gpus_free();
    out->Family("mlcube_agent_gpus", "gauge", "The host's GPUs, allocated to jobs or free.");
    out->Sample("mlcube_agent_gpus", {{"state", "allocated"}}, total - free);
    out->Sample("mlcube_agent_gpus", {{"state", "free"}}, free);
  }
  if (sources_.runtimes_up) {
    out->Family("mlcube_agent_runtime_up", "gauge",
                "1 when the configured container runtime works on this host, else 0.");
    for (const auto& [runtime, up] : sources_.runtimes_up()) {
      out->Sample("mlcube_agent_runtime_up", {{"runtime", runtime}}, up ? 1 : 0);
    }
  }
  struct statvfs fs {};
  if (!sources_.state_dir.empty() && statvfs(sources_.state_dir.c_str(), &fs) == 0) {
    out->Family("mlcube_agent_state_dir_free_bytes", "gauge",
                "Bytes free to the agent on the state directory's filesystem.");
    out->Sample("mlcube_agent_state_dir_free_bytes",
                static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize));
    out->Family("mlcube_agent_state_dir_size_bytes", "gauge",
                "Size of the state directory's filesystem.");
    out->Sample("mlcube_agent_state_dir_size_bytes",
                static_cast<double>(fs.f_blocks) * static_cast<double>(fs.f_frsize));
  }
  if (sources_.stored_bytes_by_identity) {
    out->Family("mlcube_agent_stored_bytes", "gauge",
                "Bytes each identity's cubes and job records occupy on the agent.");
    for (const auto& [identity, bytes] : sources_.stored_bytes_by_identity()) {
      out->Sample("mlcube_agent_stored_bytes", {{"identity", identity}},
                  static_cast<double>(bytes));
    }
  }
}

}  // namespace mlcube
