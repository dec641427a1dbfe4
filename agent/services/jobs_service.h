#ifndef MLCUBE_REMOTE_AGENT_SERVICES_JOBS_SERVICE_H_
#define MLCUBE_REMOTE_AGENT_SERVICES_JOBS_SERVICE_H_

// The Jobs service: submit, get, list, cancel, and Watch, which streams a
// job's log records from any record offset. A following watch wakes on
// inotify events of the log file, so new output reaches the client within
// milliseconds; it ends after the job's final state record. Ending a watch
// never touches the job.

#include "agent/jobs/job_manager.h"
#include "agent/server/stream_limiter.h"
#include "mlcube_remote/v1/jobs.grpc.pb.h"

namespace mlcube {

class JobsService final : public mlcube_remote::v1::Jobs::Service {
 public:
  // Neither owned. `streams` caps each identity's open watches.
  JobsService(JobManager* manager, StreamLimiter* streams) : manager_(manager), streams_(streams) {}

  grpc::Status PlanJob(grpc::ServerContext* context,
                       const mlcube_remote::v1::SubmitJobRequest* request,
                       mlcube_remote::v1::JobPlan* response) override;
  grpc::Status SubmitJob(grpc::ServerContext* context,
                         const mlcube_remote::v1::SubmitJobRequest* request,
                         mlcube_remote::v1::Job* response) override;
  grpc::Status SubmitJobs(grpc::ServerContext* context,
                          const mlcube_remote::v1::SubmitJobsRequest* request,
                          mlcube_remote::v1::SubmitJobsResponse* response) override;
  grpc::Status GetJob(grpc::ServerContext* context, const mlcube_remote::v1::GetJobRequest* request,
                      mlcube_remote::v1::Job* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context,
                        const mlcube_remote::v1::ListJobsRequest* request,
                        mlcube_remote::v1::ListJobsResponse* response) override;
  grpc::Status WatchJob(grpc::ServerContext* context,
                        const mlcube_remote::v1::WatchJobRequest* request,
                        grpc::ServerWriter<mlcube_remote::v1::JobEvent>* writer) override;
  grpc::Status RerunJob(grpc::ServerContext* context,
                        const mlcube_remote::v1::RerunJobRequest* request,
                        mlcube_remote::v1::Job* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context,
                         const mlcube_remote::v1::CancelJobRequest* request,
                         mlcube_remote::v1::Job* response) override;

 private:
  JobManager* manager_;
  StreamLimiter* streams_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SERVICES_JOBS_SERVICE_H_
