#include "controller/ui/dashboard_data.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/job_state_name.h"
#include "controller/remote/host_probe.h"
#include "controller/remote/job_call.h"
#include "controller/remote/job_output_pull.h"
#include "controller/remote/sweep_rerun.h"
#include "controller/sweeps/live_metrics.h"
#include "controller/sync/sync_client.h"
#include "controller/ui/dashboard_json.h"

namespace mlcube {
namespace {

using nlohmann::json;
constexpr std::chrono::seconds kAgentTimeout{10};

struct HostJobs {
  std::string host;
  absl::StatusOr<std::vector<mlcube_remote::v1::Job>> jobs;
};

HostJobs ListJobsOf(AgentPool* agents, const std::string& host, bool all) {
  HostJobs result{host, std::vector<mlcube_remote::v1::Job>()};
  absl::StatusOr<std::shared_ptr<AgentConnection>> agent = agents->Get(host);
  if (!agent.ok()) {
    result.jobs = agent.status();
    return result;
  }
  mlcube_remote::v1::ListJobsRequest request;
  request.set_all(all);
  mlcube_remote::v1::ListJobsResponse response;
  auto context = AgentConnection::Context(kAgentTimeout);
  grpc::Status status = (*agent)->jobs().ListJobs(context.get(), request, &response);
  if (!status.ok()) {
    result.jobs = FromGrpcStatus(status, "listing jobs");
    return result;
  }
  result.jobs = std::vector<mlcube_remote::v1::Job>(response.jobs().begin(), response.jobs().end());
  return result;
}

// The jobs of `hosts` (every host of the hosts file when null), asked in
// parallel.
std::vector<HostJobs> ListAllJobs(AgentPool* agents, bool all,
                                  const std::set<std::string>* hosts = nullptr) {
  std::vector<std::future<HostJobs>> asked;
  for (const auto& [name, entry] : agents->hosts().hosts) {
    if (hosts != nullptr && hosts->count(name) == 0) continue;
    asked.push_back(std::async(std::launch::async, ListJobsOf, agents, name, all));
  }
  std::vector<HostJobs> answers;
  for (std::future<HostJobs>& answer : asked) answers.push_back(answer.get());
  return answers;
}

// CallForJob on `host`'s agent.
template <typename Request>
absl::StatusOr<mlcube_remote::v1::Job> CallForJob(AgentPool* agents, const std::string& host,
                                                  const std::string& job_id,
                                                  JobsStubCall<Request> call, const char* what) {
  absl::StatusOr<std::shared_ptr<AgentConnection>> agent = agents->Get(host);
  if (!agent.ok()) return agent.status();
  return CallForJob(**agent, call, job_id, what, kAgentTimeout);
}

json HostError(const std::string& host, const absl::Status& status) {
  return {{"host", host}, {"error", std::string(status.message())}};
}

}  // namespace

DashboardData::DashboardData(AgentPool* agents, std::optional<Cube> cube)
    : agents_(agents),
      cube_(std::move(cube)),
      workspace_(cube_.has_value() ? cube_->workspace : std::string()) {}

json DashboardData::CubeJson() const {
  if (!cube_) return {{"root", ""}, {"cube_id", ""}};
  return {{"root", cube_->root}, {"cube_id", SyncClient::DefaultCubeId(cube_->root)}};
}

json DashboardData::Hosts() {
  std::vector<std::future<HostReport>> probes;
  for (const auto& [name, entry] : agents_->hosts().hosts) {
    probes.push_back(std::async(std::launch::async, [this, name = name, entry = entry] {
      absl::StatusOr<std::shared_ptr<AgentConnection>> agent = agents_->Get(name);
      if (agent.ok()) return ProbeAgent(entry, **agent);
      HostReport report;
      report.name = name;
      report.error = std::string(agent.status().message());
      return report;
    }));
  }
  json hosts = json::array();
  for (std::future<HostReport>& probe : probes) {
    HostReport report = probe.get();
    hosts.push_back(
        HostJson(report, report.name == agents_->hosts().default_host, MLCUBE_REMOTE_VERSION));
  }
  return {{"hosts", hosts}};
}

json DashboardData::Jobs(bool all) {
  json jobs = json::array();
  json errors = json::array();
  for (const HostJobs& answer : ListAllJobs(agents_, all)) {
    if (!answer.jobs.ok()) {
      errors.push_back(HostError(answer.host, answer.jobs.status()));
      continue;
    }
    for (const mlcube_remote::v1::Job& job : *answer.jobs)
      jobs.push_back(JobJson(answer.host, job));
  }
  std::stable_sort(jobs.begin(), jobs.end(), [](const json& a, const json& b) {
    return a["created_ms"].get<int64_t>() > b["created_ms"].get<int64_t>();
  });
  return {{"jobs", jobs}, {"errors", errors}};
}

absl::StatusOr<json> DashboardData::Job(const std::string& host, const std::string& job_id) {
  absl::StatusOr<mlcube_remote::v1::Job> job =
      CallForJob(agents_, host, job_id, &mlcube_remote::v1::Jobs::Stub::GetJob, "job ");
  if (!job.ok()) return job.status();
  return JobJson(host, *job);
}

absl::StatusOr<json> DashboardData::Cancel(const std::string& host, const std::string& job_id) {
  absl::StatusOr<mlcube_remote::v1::Job> job =
      CallForJob(agents_, host, job_id, &mlcube_remote::v1::Jobs::Stub::CancelJob, "cancel ");
  if (!job.ok()) return job.status();
  return JobJson(host, *job);
}

absl::StatusOr<json> DashboardData::Rerun(const std::string& host, const std::string& job_id) {
  absl::StatusOr<mlcube_remote::v1::Job> job = CallForJob(
      agents_, host, job_id, &mlcube_remote::v1::Jobs::Stub::RerunJob, "re-running job ");
  if (!job.ok()) return job.status();
  return JobJson(host, *job);
}

absl::StatusOr<json> DashboardData::RerunFailedRuns(const std::string& sweep_id) {
  if (workspace_.empty()) return absl::NotFoundError("no cube: start the dashboard with --mlcube");
  absl::StatusOr<SweepRerunOutcome> outcome = ::mlcube::RerunFailedRuns(
      workspace_, sweep_id, [this](const std::string& host) { return agents_->Get(host); });
  if (!outcome.ok()) return outcome.status();
  return json{{"rerun", outcome->rerun}, {"errors", outcome->errors}};
}

absl::StatusOr<json> DashboardData::PullOutputs(const std::string& host,
                                                const std::string& job_id) {
  if (!cube_) return absl::FailedPreconditionError("no cube: start the dashboard with --mlcube");
  absl::StatusOr<mlcube_remote::v1::Job> job =
      CallForJob(agents_, host, job_id, &mlcube_remote::v1::Jobs::Stub::GetJob, "job ");
  if (!job.ok()) return job.status();
  if (job->cube_id() != SyncClient::DefaultCubeId(cube_->root)) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", job_id, " is of cube ", job->cube_id(), ", not of ", cube_->root,
                     ": pull it with mlcube-remote sync pull --job=", job_id, " --mlcube=DIR"));
  }
  absl::StatusOr<std::shared_ptr<AgentConnection>> agent = agents_->Get(host);
  if (!agent.ok()) return agent.status();
  absl::MutexLock lock(&pull_mutex_);
  absl::StatusOr<PullStats> pulled = PullJobOutputs(**agent, *cube_, job_id, PullOptions());
  if (!pulled.ok()) return pulled.status();
  return json{{"files_written", pulled->files_written},
              {"bytes", pulled->bytes_received},
              {"workspace", cube_->workspace},
              {"conflicts", pulled->conflicts},
              {"warnings", pulled->warnings}};
}

void DashboardData::RefreshRuns(std::vector<SweepRecord>* sweeps, json* errors) {
  // Only the hosts of unfinished runs are asked: a finished sweep costs none.
  std::set<std::string> hosts;
  for (const SweepRecord& sweep : *sweeps) {
    for (const RunRecord& run : sweep.runs) {
      if (!run.finished() && !run.job_id.empty()) hosts.insert(run.host);
    }
  }
  if (hosts.empty()) return;
  std::map<std::string, std::map<std::string, mlcube_remote::v1::Job>> jobs_by_host;
  for (HostJobs& answer : ListAllJobs(agents_, /*all=*/true, &hosts)) {
    if (!answer.jobs.ok()) {
      errors->push_back(HostError(answer.host, answer.jobs.status()));
      continue;
    }
    for (mlcube_remote::v1::Job& job : *answer.jobs) {
      jobs_by_host[answer.host][job.id()] = std::move(job);
    }
  }
  for (SweepRecord& sweep : *sweeps) {
    for (RunRecord& run : sweep.runs) {
      if (run.finished() || run.job_id.empty()) continue;
      auto host = jobs_by_host.find(run.host);
      if (host == jobs_by_host.end()) continue;
      auto job = host->second.find(run.job_id);
      if (job != host->second.end()) ApplyJobToRun(job->second, &run);
    }
  }
}

json DashboardData::Sweeps() {
  json errors = json::array();
  json sweeps = json::array();
  if (!workspace_.empty()) {
    std::vector<std::string> load_errors;
    std::vector<SweepRecord> records = SweepRecord::LoadAll(workspace_, &load_errors);
    for (const std::string& error : load_errors) errors.push_back({{"error", error}});
    RefreshRuns(&records, &errors);
    for (const SweepRecord& record : records) sweeps.push_back(SweepJson(record));
  }
  return {{"workspace", workspace_}, {"sweeps", sweeps}, {"errors", errors}};
}

absl::StatusOr<std::vector<MetricsStep>> DashboardData::LiveSteps(const RunRecord& run) {
  const std::string key = absl::StrCat(run.host, "/", run.job_id);
  mlcube_remote::v1::GetJobRequest request;
  request.set_job_id(run.job_id);
  {
    absl::MutexLock lock(&mutex_);
    auto cached = live_curves_.find(key);
    if (cached != live_curves_.end()) {
      request.set_metrics_seen_size(cached->second.size);
      request.set_metrics_seen_modified_unix_ms(cached->second.modified_unix_ms);
    }
  }
  absl::StatusOr<std::shared_ptr<AgentConnection>> agent = agents_->Get(run.host);
  if (!agent.ok()) return agent.status();
  mlcube_remote::v1::Job job;
  auto context = AgentConnection::Context(kAgentTimeout);
  grpc::Status status = (*agent)->jobs().GetJob(context.get(), request, &job);
  if (!status.ok()) return FromGrpcStatus(status, absl::StrCat("run ", run.id));
  const mlcube_remote::v1::MetricsTail& tail = job.metrics();
  absl::MutexLock lock(&mutex_);
  LiveCurve& curve = live_curves_[key];
  if (tail.unchanged()) return curve.steps;
  if (!tail.error().empty()) return absl::UnavailableError(tail.error());
  absl::StatusOr<std::vector<MetricsStep>> steps =
      MetricsReader::ParseCurve(tail.data(), job.metrics_path());
  if (!steps.ok()) return steps.status();
  curve = LiveCurve{tail.file_size(), tail.modified_unix_ms(), *steps};
  return curve.steps;
}

absl::StatusOr<json> DashboardData::Curves(const std::string& sweep_id) {
  if (workspace_.empty()) return absl::NotFoundError("no cube: start the dashboard with --mlcube");
  absl::StatusOr<SweepRecord> loaded = SweepRecord::LoadById(workspace_, sweep_id);
  if (!loaded.ok()) return loaded.status();
  json errors = json::array();
  std::vector<SweepRecord> one{*std::move(loaded)};
  RefreshRuns(&one, &errors);
  const SweepRecord& sweep = one.front();
  json runs = json::array();
  for (const RunRecord& run : sweep.runs) {
    if (sweep.metrics_path.empty()) break;
    if (run.job_id.empty() || run.state == "QUEUED" || run.state == "PENDING") {
      runs.push_back(CurveJson(run, {}, "none"));  // nothing written yet
      continue;
    }
    const std::string pulled = absl::StrCat(workspace_, "/", run.run_dir, "/", sweep.metrics_path);
    const bool going_on = !run.finished() && !run.job_id.empty();
    absl::StatusOr<std::vector<MetricsStep>> steps =
        going_on ? LiveSteps(run) : MetricsReader::ReadCurve(pulled);
    // Finished but not pulled (yet): the agent still has the file.
    const bool live = going_on || (!steps.ok() && !run.job_id.empty());
    if (!going_on && live) steps = LiveSteps(run);
    if (!steps.ok()) {
      errors.push_back({{"run", run.id}, {"error", std::string(steps.status().message())}});
      continue;
    }
    runs.push_back(CurveJson(run, *steps, live ? "live" : "pulled"));
  }
  return json{{"sweep", SweepJson(sweep)}, {"runs", runs}, {"errors", errors}};
}

}  // namespace mlcube
