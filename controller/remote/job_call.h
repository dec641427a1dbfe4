#ifndef MLCUBE_REMOTE_CONTROLLER_REMOTE_JOB_CALL_H_
#define MLCUBE_REMOTE_CONTROLLER_REMOTE_JOB_CALL_H_

// One Jobs call that takes a job id and answers the Job (GetJob, CancelJob,
// RerunJob), with a deadline; a failure is "WHAT JOB_ID: the agent's
// message", with the agent's code.

#include <chrono>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "controller/transport/agent_connection.h"
#include "mlcube_remote/v1/jobs.grpc.pb.h"

namespace mlcube {

template <typename Request>
using JobsStubCall = grpc::Status (mlcube_remote::v1::Jobs::Stub::*)(grpc::ClientContext*,
                                                                     const Request&,
                                                                     mlcube_remote::v1::Job*);

template <typename Request>
absl::StatusOr<mlcube_remote::v1::Job> CallForJob(AgentConnection& agent,
                                                  JobsStubCall<Request> call,
                                                  const std::string& job_id, const char* what,
                                                  std::chrono::milliseconds timeout) {
  Request request;
  request.set_job_id(job_id);
  mlcube_remote::v1::Job job;
  auto context = AgentConnection::Context(timeout);
  grpc::Status status = (agent.jobs().*call)(context.get(), request, &job);
  if (!status.ok()) return FromGrpcStatus(status, absl::StrCat(what, job_id));
  return job;
}

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_REMOTE_JOB_CALL_H_
