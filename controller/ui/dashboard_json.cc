#include "controller/ui/dashboard_json.h"

#include "common/job_state_name.h"

namespace mlcube {
namespace {

using nlohmann::json;

const char* StreamName(mlcube_remote::v1::LogStream stream) {
  switch (stream) {
    case mlcube_remote::v1::LOG_STREAM_STDOUT:
      return "stdout";
    case mlcube_remote::v1::LOG_STREAM_STDERR:
      return "stderr";
    default:
      return "agent";
  }
}

}  // namespace

std::string DumpJson(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

json HostJson(const HostReport& report, bool is_default, const std::string& controller_version) {
  json host = {{"name", report.name},   {"address", report.address},
               {"default", is_default}, {"reachable", report.reachable},
               {"error", report.error}, {"rtt_ms", report.round_trip_ms}};
  if (!report.reachable) return host;
  const mlcube_remote::v1::AgentInfo& info = report.info;
  json runtimes = json::array();
  for (const auto& runtime : info.runtimes()) {
    runtimes.push_back({{"name", runtime.name()}, {"version", runtime.version()}});
  }
  host.update({{"agent_version", info.agent_version()},
               {"version_skew", info.agent_version() != controller_version},
               {"hostname", info.hostname()},
               {"identity", info.caller_identity()},
               {"runtimes", runtimes},
               {"gpus", info.gpus()},
               {"gpus_allocated", info.gpus_allocated()},
               {"gpus_free", info.gpus_free()},
               {"free_bytes", info.state_dir_free_bytes()},
               {"stored_bytes", info.caller_stored_bytes()},
               {"limit_stored_bytes", info.limit_stored_bytes()}});
  return host;
}

json JobJson(const std::string& host, const mlcube_remote::v1::Job& job) {
  json gpus = json::array();
  for (const auto& gpu : job.gpus()) gpus.push_back(gpu.index());
  return {{"host", host},
          {"id", job.id()},
          {"state", JobStateName(job.state())},
          {"cube_id", job.cube_id()},
          {"action", job.action() == mlcube_remote::v1::JOB_ACTION_CONFIGURE ? "configure" : "run"},
          {"tasks", job.tasks()},
          {"current_task", job.current_task()},
          {"runtime", RuntimeName(job.runtime())},
          {"exit_code", job.exit_code()},
          {"reason", job.reason()},
          {"created_ms", job.created_unix_ms()},
          {"started_ms", job.started_unix_ms()},
          {"finished_ms", job.finished_unix_ms()},
          {"log_end_offset", job.log_end_offset()},
          {"log_truncated", job.log_truncated()},
          {"scheduler", job.scheduler()},
          {"scheduler_job_id", job.scheduler_job_id()},
          {"pending_reason", job.pending_reason()},
          {"batch_id", job.batch_id()},
          {"gpus", gpus}};
}

json JobEventJson(const mlcube_remote::v1::JobEvent& event) {
  if (event.has_log()) {
    return {{"stream", StreamName(event.log().stream())}, {"text", event.log().data()}};
  }
  const mlcube_remote::v1::StateChange& state = event.state();
  return {{"state", JobStateName(state.state())},
          {"exit_code", state.exit_code()},
          {"reason", state.reason()},
          {"task", state.current_task()},
          {"unix_ms", state.unix_ms()}};
}

json SweepJson(const SweepRecord& sweep) {
  json runs = json::array();
  for (const RunRecord& run : sweep.runs) {
    json values = json::object();
    for (const auto& [axis, value] : run.values) values[axis] = value;
    runs.push_back({{"id", run.id},
                    {"label", run.Label()},
                    {"values", values},
                    {"host", run.host},
                    {"job_id", run.job_id},
                    {"state", run.state},
                    {"started_ms", run.started_unix_ms},
                    {"finished_ms", run.finished_unix_ms},
                    {"exit_code", run.exit_code},
                    {"reason", run.reason},
                    {"metrics", run.metrics},
                    {"metrics_live", run.metrics_live}});
  }
  return {{"id", sweep.id},
          {"cube", sweep.cube},
          {"tasks", sweep.tasks},
          {"axes", sweep.axes},
          {"created_ms", sweep.created_unix_ms},
          {"metrics_path", sweep.metrics_path},
          {"runs", runs}};
}

json CurveJson(const RunRecord& run, const std::vector<MetricsStep>& steps,
               const std::string& source) {
  return {{"id", run.id},
          {"label", run.Label()},
          {"state", run.state},
          {"source", source},
          {"steps", steps}};
}

}  // namespace mlcube
