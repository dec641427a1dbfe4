#ifndef MLCUBE_REMOTE_AGENT_METRICS_JOB_STATISTICS_H_
#define MLCUBE_REMOTE_AGENT_METRICS_JOB_STATISTICS_H_

// What the agent's finished jobs add up to since it started: how many ended
// each way (outcome, runtime, scheduler) and how long they ran and waited
// in the queue. Thread-safe. No job ids: labels stay few.

#include <map>
#include <string>
#include <tuple>

#include "absl/synchronization/mutex.h"
#include "agent/metrics/exposition.h"
#include "agent/metrics/histogram.h"

namespace mlcube {

struct FinishedJob {
  std::string outcome;             // "succeeded", "failed", "cancelled"
  std::string runtime;             // "docker", "podman", "singularity"
  std::string scheduler;           // "local" or "slurm"
  double run_seconds = -1;         // from the first step to the end; < 0: never ran
  double queue_wait_seconds = -1;  // from submit to the first step; < 0: never ran
};

class JobStatistics {
 public:
  JobStatistics();
  void RecordFinished(const FinishedJob& job);
  // mlcube_agent_jobs_finished_total, mlcube_agent_job_duration_seconds,
  // mlcube_agent_job_queue_wait_seconds.
  void Write(PrometheusText* out) const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::tuple<std::string, std::string, std::string>, uint64_t> finished_
      ABSL_GUARDED_BY(mu_);
  Histogram duration_ ABSL_GUARDED_BY(mu_);
  Histogram queue_wait_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_METRICS_JOB_STATISTICS_H_
