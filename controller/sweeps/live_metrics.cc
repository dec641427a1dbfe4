#include "controller/sweeps/live_metrics.h"

#include <map>

#include "common/job_state_name.h"
#include "controller/sweeps/metrics_reader.h"

namespace mlcube {

bool LiveMetrics::Apply(const mlcube_remote::v1::Job& job, RunRecord* run, std::string* error) {
  if (job.metrics_path().empty() || !job.has_metrics()) return false;
  const mlcube_remote::v1::MetricsTail& tail = job.metrics();
  if (!tail.error().empty()) {
    if (error != nullptr) *error = tail.error();
    return false;
  }
  if (tail.data().empty()) return false;
  absl::StatusOr<std::map<std::string, std::string>> values =
      MetricsReader::ParseLatest(tail.data(), job.metrics_path());
  if (!values.ok()) {
    if (error != nullptr) *error = std::string(values.status().message());
    return false;
  }
  if (values->empty() || (run->metrics_live && *values == run->metrics)) return false;
  run->metrics = std::move(*values);
  run->metrics_live = true;
  return true;
}

void ApplyJobToRun(const mlcube_remote::v1::Job& job, RunRecord* run, std::string* metrics_error) {
  run->state = JobStateName(job.state());
  run->started_unix_ms = job.started_unix_ms();
  run->finished_unix_ms = job.finished_unix_ms();
  run->exit_code = job.exit_code();
  run->reason = job.reason();
  LiveMetrics::Apply(job, run, metrics_error);
}

}  // namespace mlcube
