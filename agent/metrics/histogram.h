#ifndef MLCUBE_REMOTE_AGENT_METRICS_HISTOGRAM_H_
#define MLCUBE_REMOTE_AGENT_METRICS_HISTOGRAM_H_

// A Prometheus histogram: cumulative counts per upper bound, the sum and
// the count of what was observed. Not thread-safe (its owner locks).

#include <string>
#include <vector>

#include "agent/metrics/exposition.h"

namespace mlcube {

class Histogram {
 public:
  // `bounds` ascending; +Inf is implied.
  explicit Histogram(std::vector<double> bounds)
      : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {}

  void Observe(double value);
  // NAME_bucket{labels..., le="B"}, NAME_sum, NAME_count.
  void Write(const std::string& name, const MetricLabels& labels, PrometheusText* out) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bound, not cumulative
  uint64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_METRICS_HISTOGRAM_H_
