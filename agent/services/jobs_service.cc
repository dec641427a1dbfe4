#include "agent/services/jobs_service.h"

#include <optional>

#include "absl/time/clock.h"
#include "agent/job_log/job_log.h"
#include "agent/job_log/log_growth_waiter.h"
#include "agent/jobs/job_store.h"
#include "agent/server/caller_identity.h"
#include "agent/validation/request_validator.h"
#include "common/grpc_status.h"

namespace mlcube {

using mlcube_remote::v1::JobEvent;

namespace {

// Consecutive output records of one stream are sent as one event (up to
// this size) so a chatty task does not cost one message per write.
constexpr size_t kMaxEventPayload = 512 * 1024;

mlcube_remote::v1::LogStream StreamOf(JobLog::RecordType type) {
  switch (type) {
    case JobLog::RecordType::kStdout:
      return mlcube_remote::v1::LOG_STREAM_STDOUT;
    case JobLog::RecordType::kStderr:
      return mlcube_remote::v1::LOG_STREAM_STDERR;
    default:
      return mlcube_remote::v1::LOG_STREAM_AGENT;
  }
}

// Sends records as events; returns false when the client went away.
bool SendRecords(std::vector<JobLog::Record>& records, grpc::ServerWriter<JobEvent>* writer,
                 bool* saw_final) {
  size_t i = 0;
  while (i < records.size()) {
    JobLog::Record& first = records[i];
    JobEvent event;
    event.set_offset(first.offset);
    if (first.type == JobLog::RecordType::kState) {
      mlcube_remote::v1::StateChange* change = event.mutable_state();
      change->ParseFromString(first.data);
      if (IsFinalState(change->state())) *saw_final = true;
      event.set_next_offset(first.next_offset);
      ++i;
    } else {
      auto* log = event.mutable_log();
      log->set_stream(StreamOf(first.type));
      std::string* data = log->mutable_data();
      int64_t next = first.next_offset;
      *data = std::move(first.data);
      ++i;
      while (i < records.size() && records[i].type == first.type &&
             data->size() + records[i].data.size() <= kMaxEventPayload) {
        data->append(records[i].data);
        next = records[i].next_offset;
        ++i;
      }
      event.set_next_offset(next);
    }
    if (!writer->Write(event)) return false;
  }
  return true;
}

}  // namespace

grpc::Status JobsService::SubmitJobs(grpc::ServerContext* context,
                                     const mlcube_remote::v1::SubmitJobsRequest* request,
                                     mlcube_remote::v1::SubmitJobsResponse* response) {
  auto owner = CallerIdentity(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  if (absl::Status s = ValidateSubmitJobsRequest(*request); !s.ok()) return ToGrpcStatus(s);
  auto jobs = manager_->SubmitBatch(*owner, *request);
  if (!jobs.ok()) return ToGrpcStatus(jobs.status());
  for (mlcube_remote::v1::Job& job : *jobs) *response->add_jobs() = std::move(job);
  return grpc::Status::OK;
}

grpc::Status JobsService::SubmitJob(grpc::ServerContext* context,
                                    const mlcube_remote::v1::SubmitJobRequest* request,
                                    mlcube_remote::v1::Job* response) {
  auto owner = CallerIdentity(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  if (absl::Status s = ValidateSubmitJobRequest(*request); !s.ok()) return ToGrpcStatus(s);
  auto job = manager_->Submit(*owner, *request);
  if (!job.ok()) return ToGrpcStatus(job.status());
  *response = *job;
  return grpc::Status::OK;
}

grpc::Status JobsService::PlanJob(grpc::ServerContext* context,
                                  const mlcube_remote::v1::SubmitJobRequest* request,
                                  mlcube_remote::v1::JobPlan* response) {
  auto owner = CallerIdentity(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  if (absl::Status s = ValidateSubmitJobRequest(*request); !s.ok()) return ToGrpcStatus(s);
  auto plan = manager_->Plan(*owner, *request);
  if (!plan.ok()) return ToGrpcStatus(plan.status());
  *response = std::move(*plan);
  return grpc::Status::OK;
}

grpc::Status JobsService::GetJob(grpc::ServerContext* context,
                                 const mlcube_remote::v1::GetJobRequest* request,
                                 mlcube_remote::v1::Job* response) {
  auto owner = CallerIdentity(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  MetricsSeen seen;
  seen.size = request->metrics_seen_size();
  seen.modified_unix_ms = request->metrics_seen_modified_unix_ms();
  auto job = manager_->Get(*owner, request->job_id(), seen);
  if (!job.ok()) return ToGrpcStatus(job.status());
  *response = *job;
  return grpc::Status::OK;
}

grpc::Status JobsService::ListJobs(grpc::ServerContext* context,
                                   const mlcube_remote::v1::ListJobsRequest* request,
                                   mlcube_remote::v1::ListJobsResponse* response) {
  auto owner = CallerIdentity(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  if (absl::Status s = ValidateListJobsRequest(*request); !s.ok()) return ToGrpcStatus(s);
  for (auto& job : manager_->List(*owner, request->all(), request->cube_id())) {
    *response->add_jobs() = std::move(job);
  }
  auto [pruned, retention] = manager_->PrunedOf(*owner);
  response->set_pruned_jobs(pruned);
  response->set_retention(retention);
  return grpc::Status::OK;
}

grpc::Status JobsService::CancelJob(grpc::ServerContext* context,
                                    const mlcube_remote::v1::CancelJobRequest* request,
                                    mlcube_remote::v1::Job* response) {
  auto owner = CallerIdentity(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  auto job = manager_->Cancel(*owner, request->job_id());
  if (!job.ok()) return ToGrpcStatus(job.status());
  *response = *job;
  return grpc::Status::OK;
}

grpc::Status JobsService::RerunJob(grpc::ServerContext* context,
                                   const mlcube_remote::v1::RerunJobRequest* request,
                                   mlcube_remote::v1::Job* response) {
  auto owner = CallerIdentity(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  absl::StatusOr<mlcube_remote::v1::SubmitJobRequest> again =
      manager_->RequestToRerun(*owner, request->job_id());
  if (!again.ok()) return ToGrpcStatus(again.status());
  again->set_client_request_id(request->client_request_id());
  // Checked again: the agent's rules may have changed since the first submit.
  if (absl::Status s = ValidateSubmitJobRequest(*again); !s.ok()) return ToGrpcStatus(s);
  auto job = manager_->Submit(*owner, *again);
  if (!job.ok()) return ToGrpcStatus(job.status());
  *response = *job;
  return grpc::Status::OK;
}

grpc::Status JobsService::WatchJob(grpc::ServerContext* context,
                                   const mlcube_remote::v1::WatchJobRequest* request,
                                   grpc::ServerWriter<JobEvent>* writer) {
  auto owner = CallerIdentity(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  const std::string& id = request->job_id();
  if (absl::Status s = ValidateWatchJobRequest(*request); !s.ok()) return ToGrpcStatus(s);
  auto job = manager_->Get(*owner, id);
  if (!job.ok()) return ToGrpcStatus(job.status());
  absl::StatusOr<StreamLimiter::Slot> slot = streams_->Acquire(*owner);
  if (!slot.ok()) return ToGrpcStatus(slot.status());
  const std::string path = manager_->LogPath(id);

  // Only a follower waits for more (inotify wakes it as soon as the
  // supervisor appends).
  std::optional<LogGrowthWaiter> waiter;
  if (request->follow()) waiter.emplace(path);

  int64_t offset = request->from_offset();
  bool saw_final = false;
  bool checked_final = false;
  absl::Time last_send = absl::InfinitePast();
  for (;;) {
    auto records = JobLog::Read(path, offset, kMaxEventPayload);
    if (!records.ok()) return ToGrpcStatus(records.status());
    if (!records->empty()) {
      if (!SendRecords(*records, writer, &saw_final)) return grpc::Status::OK;
      offset = records->back().next_offset;
      last_send = absl::Now();
      continue;
    }
    if (!request->follow() || saw_final) return grpc::Status::OK;
    if (context->IsCancelled()) return grpc::Status::CANCELLED;
    // The final state record is written before the state changes in
    // memory, so after seeing a final state one more read gets everything.
    if (checked_final) return grpc::Status::OK;
    if (manager_->IsFinal(id)) {
      checked_final = true;
      continue;
    }
    waiter->Wait(last_send);
  }
}

}  // namespace mlcube
