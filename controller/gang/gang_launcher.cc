#include "controller/gang/gang_launcher.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/job_state_name.h"
#include "controller/remote/job_watcher.h"

namespace mlcube {
namespace {

using mlcube_remote::v1::Job;

std::string RankOn(const std::vector<GangMember>& members, size_t rank) {
  return absl::StrCat("rank ", rank, " on ", members[rank].request.host_name);
}

absl::StatusOr<Job> GetJob(AgentConnection& agent, const std::string& job_id) {
  mlcube_remote::v1::GetJobRequest request;
  request.set_job_id(job_id);
  Job job;
  auto context = AgentConnection::Context(std::chrono::seconds(10));
  grpc::Status status = agent.jobs().GetJob(context.get(), request, &job);
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("job ", job_id, " on ", agent.Describe(), ": ", status.error_message()));
  }
  return job;
}

absl::Status SubmitEach(std::vector<GangMember>& members, const Console& console) {
  for (size_t rank = 0; rank < members.size(); ++rank) {
    GangMember& member = members[rank];
    absl::StatusOr<Job> job = SubmitWithRetry(*member.agent, member.request.submit, console);
    if (!job.ok()) {
      return absl::Status(job.status().code(),
                          absl::StrCat(RankOn(members, rank), ": ", job.status().message()));
    }
    member.job_id = job->id();
  }
  return absl::OkStatus();
}

// OK once every rank started; UNAVAILABLE while some have not (`waiting`
// says which and why, all of them); another error when one ended before
// the others.
absl::Status CheckStarted(const std::vector<GangMember>& members, std::string* waiting) {
  std::vector<std::string> not_yet;
  for (size_t rank = 0; rank < members.size(); ++rank) {
    absl::StatusOr<Job> job = GetJob(*members[rank].agent, members[rank].job_id);
    if (!job.ok()) return job.status();
    switch (job->state()) {
      case mlcube_remote::v1::JOB_STATE_RUNNING:
      case mlcube_remote::v1::JOB_STATE_SUCCEEDED:
        continue;
      case mlcube_remote::v1::JOB_STATE_FAILED:
      case mlcube_remote::v1::JOB_STATE_CANCELLED:
        return absl::AbortedError(absl::StrCat(
            RankOn(members, rank), " ended before every rank started: ", JobStateName(job->state()),
            job->reason().empty() ? "" : ": ", job->reason()));
      default:
        not_yet.push_back(absl::StrCat(RankOn(members, rank), " is ", JobStateName(job->state()),
                                       job->reason().empty() ? "" : ": ", job->reason()));
    }
  }
  if (not_yet.empty()) return absl::OkStatus();
  *waiting = absl::StrJoin(not_yet, "; ");
  return absl::UnavailableError(*waiting);
}

absl::Status WaitAllStarted(const std::vector<GangMember>& members, absl::Duration timeout,
                            InterruptMonitor& interrupts, const Console& console) {
  const absl::Time deadline = absl::Now() + timeout;
  const int interrupts_before = interrupts.count();
  std::string shown;
  for (;;) {
    std::string waiting;
    absl::Status started = CheckStarted(members, &waiting);
    if (started.ok() || started.code() != absl::StatusCode::kUnavailable || waiting.empty()) {
      return started;
    }
    if (waiting != shown) console.Info(absl::StrCat("waiting: ", waiting));
    shown = waiting;
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("not every rank started within ", absl::FormatDuration(timeout), " (",
                       waiting, "); raise --start-timeout, or free that host"));
    }
    if (interrupts.WaitForMore(interrupts_before, std::chrono::milliseconds(250))) {
      return absl::CancelledError("interrupted before every rank started");
    }
  }
}

}  // namespace

void CancelGang(const std::vector<GangMember>& members, int except, const Console& console) {
  for (size_t rank = 0; rank < members.size(); ++rank) {
    if (members[rank].job_id.empty() || static_cast<int>(rank) == except) continue;
    mlcube_remote::v1::CancelJobRequest request;
    request.set_job_id(members[rank].job_id);
    Job job;
    auto context = AgentConnection::Context(std::chrono::seconds(30));
    grpc::Status status = members[rank].agent->jobs().CancelJob(context.get(), request, &job);
    if (!status.ok() && status.error_code() != grpc::StatusCode::FAILED_PRECONDITION) {
      console.Warning(absl::StrCat("cancelling ", RankOn(members, rank), " (job ",
                                   members[rank].job_id, "): ", status.error_message()));
    }
  }
}

absl::Status SubmitGang(std::vector<GangMember>& members, const Console& console) {
  absl::Status status = SubmitEach(members, console);
  if (!status.ok()) CancelGang(members, -1, console);
  return status;
}

absl::Status WaitGangStarted(const std::vector<GangMember>& members, absl::Duration start_timeout,
                             InterruptMonitor& interrupts, const Console& console) {
  absl::Status status = WaitAllStarted(members, start_timeout, interrupts, console);
  if (!status.ok()) CancelGang(members, -1, console);
  return status;
}

}  // namespace mlcube
