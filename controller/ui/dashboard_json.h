#ifndef MLCUBE_REMOTE_CONTROLLER_UI_DASHBOARD_JSON_H_
#define MLCUBE_REMOTE_CONTROLLER_UI_DASHBOARD_JSON_H_

// The JSON the dashboard's page reads: one object per host, job, log event,
// sweep and curve, with snake_case keys, times as Unix milliseconds and
// states by name ("RUNNING"). Pure conversions, no I/O.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "controller/remote/host_probe.h"
#include "controller/sweeps/metrics_reader.h"
#include "controller/sweeps/sweep_record.h"
#include "mlcube_remote/v1/jobs.pb.h"

namespace mlcube {

// `value` as compact JSON text; strings that are not valid UTF-8 (a task's
// output may be anything) have the bad bytes replaced by U+FFFD.
std::string DumpJson(const nlohmann::json& value);

// `controller_version` flags an agent of another version (version_skew).
nlohmann::json HostJson(const HostReport& report, bool is_default,
                        const std::string& controller_version);

nlohmann::json JobJson(const std::string& host, const mlcube_remote::v1::Job& job);

// A log chunk as {"stream": "stdout"|"stderr"|"agent", "text": ...} or a
// state change as {"state": ..., "exit_code", "reason", "task", "unix_ms"}.
// The text is the task's bytes as they are: DumpJson makes them valid.
nlohmann::json JobEventJson(const mlcube_remote::v1::JobEvent& event);

nlohmann::json SweepJson(const SweepRecord& sweep);

// One run's curve: its label, state and steps (metric -> value), and where
// the steps come from ("pulled": the run's file in the workspace, "live":
// the agent's tail of it while the run goes on).
nlohmann::json CurveJson(const RunRecord& run, const std::vector<MetricsStep>& steps,
                         const std::string& source);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_UI_DASHBOARD_JSON_H_
