#ifndef MLCUBE_REMOTE_CONTROLLER_UI_DASHBOARD_DATA_H_
#define MLCUBE_REMOTE_CONTROLLER_UI_DASHBOARD_DATA_H_

// What the dashboard's pages show, asked of the agents of the hosts file
// (every host in parallel, so a dead host costs one timeout, not one each)
// and read from the cube's workspace (its sweep records and pulled metrics
// files). Read-only, except Cancel. Everything the agents return is the
// caller's own: they authenticate the connection and show nothing else.
// Thread-safe.

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/cube.h"
#include "controller/sweeps/metrics_reader.h"
#include "controller/sweeps/sweep_record.h"
#include "controller/ui/agent_pool.h"

namespace mlcube {

class DashboardData {
 public:
  // `cube`: the cube whose sweeps the sweeps page shows and whose jobs'
  // outputs may be pulled (none: neither).
  DashboardData(AgentPool* agents, std::optional<Cube> cube);

  // {"root", "cube_id"} of the dashboard's cube ("" when none).
  nlohmann::json CubeJson() const;
  // {"hosts": [HostJson...]}, in hosts-file order.
  nlohmann::json Hosts();
  // {"jobs": [JobJson...], "errors": [{"host", "error"}]}: every host's jobs
  // (finished ones too when `all`), newest first.
  nlohmann::json Jobs(bool all);
  // NOT_FOUND / INVALID_ARGUMENT / UNAVAILABLE as the agent says.
  absl::StatusOr<nlohmann::json> Job(const std::string& host, const std::string& job_id);
  absl::StatusOr<nlohmann::json> Cancel(const std::string& host, const std::string& job_id);
  // A new job from the request of `job_id` (RerunJob): its JobJson.
  absl::StatusOr<nlohmann::json> Rerun(const std::string& host, const std::string& job_id);
  // {"rerun": ["r003 -> job ..."], "errors": [...]}: RerunFailedRuns.
  absl::StatusOr<nlohmann::json> RerunFailedRuns(const std::string& sweep_id);
  // The outputs of job `job_id` (a job of the dashboard's cube) into the
  // cube's workspace, as `sync pull --job`: {"files_written", "bytes",
  // "conflicts", "warnings"}. FAILED_PRECONDITION for a job of another
  // cube. One pull at a time.
  absl::StatusOr<nlohmann::json> PullOutputs(const std::string& host, const std::string& job_id);
  // {"workspace", "sweeps": [SweepJson...], "errors": [...]}, unfinished
  // runs brought up to date from their agents (in memory only: the records
  // in the workspace are left to the commands that own them).
  nlohmann::json Sweeps();
  // {"sweep": SweepJson, "runs": [CurveJson...], "errors": [...]}: the
  // sweep brought up to date as Sweeps does, and every run's steps, from its
  // pulled file or, while it goes on, the agent's tail of it.
  absl::StatusOr<nlohmann::json> Curves(const std::string& sweep_id);

 private:
  struct LiveCurve {
    int64_t size = 0;
    int64_t modified_unix_ms = 0;
    std::vector<MetricsStep> steps;
  };

  // The agents' view of unfinished runs, one ListJobs per host.
  void RefreshRuns(std::vector<SweepRecord>* sweeps, nlohmann::json* errors);
  // The steps of a run still going on, from the agent's tail (cached by
  // file size and time, so an unchanged file is not fetched again).
  absl::StatusOr<std::vector<MetricsStep>> LiveSteps(const RunRecord& run);

  AgentPool* agents_;
  const std::optional<Cube> cube_;
  const std::string workspace_;
  absl::Mutex pull_mutex_;
  absl::Mutex mutex_;
  std::map<std::string, LiveCurve> live_curves_ ABSL_GUARDED_BY(mutex_);  // by "host/job"
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_UI_DASHBOARD_DATA_H_
