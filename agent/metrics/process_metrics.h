#ifndef MLCUBE_REMOTE_AGENT_METRICS_PROCESS_METRICS_H_
#define MLCUBE_REMOTE_AGENT_METRICS_PROCESS_METRICS_H_

// The standard process_* series of Prometheus' client libraries, for this
// process, read from /proc/self: CPU seconds, resident memory, open and
// maximum descriptors, start time.

#include "agent/metrics/exposition.h"

namespace mlcube {

void WriteProcessMetrics(PrometheusText* out);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_METRICS_PROCESS_METRICS_H_
