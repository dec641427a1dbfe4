#include "agent/metrics/job_statistics.h"

namespace mlcube {

JobStatistics::JobStatistics()
    : duration_({1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 72 * 3600}),
      queue_wait_({0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600}) {}

void JobStatistics::RecordFinished(const FinishedJob& job) {
  absl::MutexLock lock(&mu_);
  ++finished_[{job.outcome, job.runtime, job.scheduler}];
  if (job.run_seconds >= 0) duration_.Observe(job.run_seconds);
  if (job.queue_wait_seconds >= 0) queue_wait_.Observe(job.queue_wait_seconds);
}

void JobStatistics::Write(PrometheusText* out) const {
  absl::MutexLock lock(&mu_);
  out->Family("mlcube_agent_jobs_finished_total", "counter",
              "Jobs that reached a final state since the agent started, by outcome, runtime "
              "and scheduler.");
  for (const auto& [key, count] : finished_) {
    out->Sample("mlcube_agent_jobs_finished_total",
                {{"outcome", std::get<0>(key)},
                 {"runtime", std::get<1>(key)},
                 {"scheduler", std::get<2>(key)}},
                static_cast<double>(count));
  }
  out->Family("mlcube_agent_job_duration_seconds", "histogram",
              "Time finished jobs ran, from their first step to their end.");
  duration_.Write("mlcube_agent_job_duration_seconds", {}, out);
  out->Family("mlcube_agent_job_queue_wait_seconds", "histogram",
              "Time finished jobs waited from their submit to their first step.");
  queue_wait_.Write("mlcube_agent_job_queue_wait_seconds", {}, out);
}

}  // namespace mlcube
