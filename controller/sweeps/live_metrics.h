#ifndef MLCUBE_REMOTE_CONTROLLER_SWEEPS_LIVE_METRICS_H_
#define MLCUBE_REMOTE_CONTROLLER_SWEEPS_LIVE_METRICS_H_

// A run's latest metrics while it goes on: the agent returns the tail of
// the run's metrics file with GetJob (Job.metrics, when the job was
// submitted with a metrics_path), parsed here by MetricsReader, the one
// parser of metrics files. An agent that predates live metrics returns no
// tail; the run then shows its values once they are pulled.

#include <string>

#include "controller/sweeps/sweep_record.h"
#include "mlcube_remote/v1/jobs.pb.h"

namespace mlcube {

class LiveMetrics {
 public:
  // Sets run->metrics from `job`'s metrics tail and marks them live; true
  // when the values changed. A tail with an error, no data or content that
  // does not parse changes nothing (the last good values stay); `error`,
  // when given, gets the reason.
  static bool Apply(const mlcube_remote::v1::Job& job, RunRecord* run,
                    std::string* error = nullptr);
};

// A run as its job stands on the agent: state, times, exit code, reason,
// then LiveMetrics::Apply (whose error, if any, goes to `metrics_error`).
void ApplyJobToRun(const mlcube_remote::v1::Job& job, RunRecord* run,
                   std::string* metrics_error = nullptr);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SWEEPS_LIVE_METRICS_H_
