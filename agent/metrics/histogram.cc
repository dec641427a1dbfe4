#include "agent/metrics/histogram.h"

#include "absl/strings/str_cat.h"

namespace mlcube {

void Histogram::Observe(double value) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (value <= bounds_[i]) {
      ++counts_[i];
      break;
    }
  }
  ++count_;
  sum_ += value;
}

void Histogram::Write(const std::string& name, const MetricLabels& labels,
                      PrometheusText* out) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    MetricLabels with_le = labels;
    if (i < bounds_.size()) {
      cumulative += counts_[i];
      with_le.emplace_back("le", absl::StrCat(bounds_[i]));
    } else {
      cumulative = count_;
      with_le.emplace_back("le", "+Inf");
    }
    out->Sample(name + "_bucket", with_le, static_cast<double>(cumulative));
  }
  out->Sample(name + "_sum", labels, sum_);
  out->Sample(name + "_count", labels, static_cast<double>(count_));
}

}  // namespace mlcube
