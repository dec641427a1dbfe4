#include "controller/commands/gang_commands.h"

#include <memory>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/job_state_name.h"
#include "controller/gang/gang_follower.h"
#include "controller/gang/gang_launcher.h"
#include "controller/gang/gang_record.h"
#include "controller/install/agent_connector.h"
#include "controller/remote/job_watcher.h"
#include "controller/remote/rank_filter.h"
#include "controller/terminal/exit_codes.h"
#include "controller/terminal/interrupt_monitor.h"

namespace mlcube {
namespace {

using mlcube_remote::v1::Job;

// The record and a connection to each rank's host.
struct OpenGang {
  GangRecord record;
  std::vector<std::unique_ptr<AgentConnection>> connections;
  std::vector<GangMember> members;
};

absl::StatusOr<OpenGang> Open(const JobCommandOptions& options) {
  OpenGang gang;
  absl::StatusOr<GangRecord> record = GangRecord::Load(GangRecord::DefaultDir(), options.job_id);
  if (!record.ok()) return record.status();
  gang.record = *std::move(record);
  absl::StatusOr<HostsFile> file = LoadHostsFile(options.hosts_lookup);
  if (!file.ok()) return file.status();
  for (const GangRank& rank : gang.record.ranks) {
    absl::StatusOr<HostEntry> host = file->Find(rank.host);
    if (!host.ok()) return host.status();
    absl::StatusOr<std::unique_ptr<AgentConnection>> connection = ConnectToAgent(*host);
    if (!connection.ok()) return connection.status();
    gang.connections.push_back(std::move(*connection));
    GangMember member;
    member.agent = gang.connections.back().get();
    member.request.host_name = rank.host;
    member.job_id = rank.job_id;
    gang.members.push_back(std::move(member));
  }
  return gang;
}

int Report(const absl::Status& status, const Console& console) {
  console.Error(status.message());
  return status.code() == absl::StatusCode::kNotFound ||
                 status.code() == absl::StatusCode::kInvalidArgument
             ? kExitBadInput
             : kExitAgentError;
}

std::string GangState(const std::vector<Job>& jobs, int* exit_code) {
  bool cancelled = false;
  bool any_running = false;
  for (const Job& job : jobs) {
    switch (job.state()) {
      case mlcube_remote::v1::JOB_STATE_SUCCEEDED:
        break;
      case mlcube_remote::v1::JOB_STATE_FAILED:
        if (*exit_code == 0) *exit_code = job.exit_code() != 0 ? job.exit_code() : 1;
        break;
      case mlcube_remote::v1::JOB_STATE_CANCELLED:
        cancelled = true;
        break;
      default:
        any_running = true;
    }
  }
  if (any_running) return "RUNNING";
  if (*exit_code != 0) return "FAILED";
  return cancelled ? "CANCELLED" : "SUCCEEDED";
}

}  // namespace

int RunGangStatus(const JobCommandOptions& options, const Console& console, std::ostream& out) {
  absl::StatusOr<OpenGang> gang = Open(options);
  if (!gang.ok()) return Report(gang.status(), console);
  std::vector<Job> jobs;
  for (const GangMember& member : gang->members) {
    mlcube_remote::v1::GetJobRequest request;
    request.set_job_id(member.job_id);
    Job job;
    auto context = AgentConnection::Context(std::chrono::seconds(10));
    grpc::Status status = member.agent->jobs().GetJob(context.get(), request, &job);
    if (!status.ok()) {
      return Report(absl::UnavailableError(absl::StrCat("job ", member.job_id, " on ",
                                                        member.request.host_name, ": ",
                                                        status.error_message())),
                    console);
    }
    jobs.push_back(std::move(job));
  }
  int exit_code = 0;
  const std::string state = GangState(jobs, &exit_code);
  out << "job: " << gang->record.id << "\ntask: " << gang->record.task << "\nstate: " << state
      << "\n";
  if (state == "FAILED") out << "exit code: " << exit_code << "\n";
  out << "ranks: " << jobs.size() << " (MASTER_ADDR=" << gang->record.master_addr
      << " MASTER_PORT=" << gang->record.master_port << ")\n";
  for (size_t rank = 0; rank < jobs.size(); ++rank) {
    out << "rank " << rank << ": " << gang->members[rank].request.host_name << " job "
        << jobs[rank].id() << " " << JobStateName(jobs[rank].state());
    if (jobs[rank].state() == mlcube_remote::v1::JOB_STATE_FAILED) {
      out << " (exit code " << jobs[rank].exit_code() << ")";
    }
    out << "\n";
  }
  return kExitOk;
}

int RunGangLogs(const JobCommandOptions& options, const Console& console) {
  std::set<int> ranks;
  if (!options.ranks.empty()) {
    absl::StatusOr<std::set<int>> parsed = ParseRankList(options.ranks);
    if (!parsed.ok()) return Report(parsed.status(), console);
    ranks = *std::move(parsed);
  }
  InterruptMonitor interrupts;
  absl::StatusOr<OpenGang> gang = Open(options);
  if (!gang.ok()) return Report(gang.status(), console);
  absl::StatusOr<GangOutcome> outcome =
      FollowGang(gang->members, ranks, options.follow, &interrupts, console);
  if (!outcome.ok()) return Report(outcome.status(), console);
  if (outcome->interrupted) {
    console.Info(absl::StrCat("stopped following; ", gang->record.id, " goes on"));
    return kExitCancelled;
  }
  return options.follow ? GangExitStatus(*outcome) : kExitOk;
}

int RunGangCancel(const JobCommandOptions& options, const Console& console, std::ostream& out) {
  absl::StatusOr<OpenGang> gang = Open(options);
  if (!gang.ok()) return Report(gang.status(), console);
  CancelGang(gang->members, -1, console);
  out << gang->record.id << " CANCELLED (" << gang->members.size() << " ranks)\n";
  return kExitOk;
}

}  // namespace mlcube
