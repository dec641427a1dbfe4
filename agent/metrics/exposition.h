#ifndef MLCUBE_REMOTE_AGENT_METRICS_EXPOSITION_H_
#define MLCUBE_REMOTE_AGENT_METRICS_EXPOSITION_H_

// Prometheus' text exposition format (version 0.0.4): one family at a time,
// `# HELP` and `# TYPE` once, then its samples. Label values are escaped
// (backslash, double quote, line feed), so any string may be a value.

#include <string>
#include <utility>
#include <vector>

namespace mlcube {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  // Starts family `name` of `type` ("counter", "gauge", "histogram").
  void Family(const std::string& name, const std::string& type, const std::string& help);
  // A sample of the current family (or `name` with a suffix such as
  // "_bucket" for histograms).
  void Sample(const std::string& name, const MetricLabels& labels, double value);
  void Sample(const std::string& name, double value) { Sample(name, {}, value); }

  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// `value` as a label value between double quotes, escaped.
std::string QuotedLabelValue(const std::string& value);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_METRICS_EXPOSITION_H_
