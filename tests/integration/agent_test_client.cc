// A minimal client for integration tests that must call the agent as another
// user:
//   agent_test_client SOCKET            prints the caller identity (GetInfo)
//   agent_test_client SOCKET get JOB    prints the status code of GetJob
//   agent_test_client SOCKET cancel JOB prints the status code of CancelJob

#include <grpcpp/grpcpp.h>

#include <iostream>

#include "mlcube_remote/v1/agent.grpc.pb.h"
#include "mlcube_remote/v1/jobs.grpc.pb.h"

int main(int argc, char** argv) {
  if (argc != 2 && argc != 4) {
    std::cerr << "usage: agent_test_client SOCKET_PATH [get|cancel JOB_ID]\n";
    return 2;
  }
  auto channel =
      grpc::CreateChannel(std::string("unix://") + argv[1], grpc::InsecureChannelCredentials());
  if (argc == 4) {
    mlcube_remote::v1::Jobs::Stub jobs(channel);
    grpc::ClientContext ctx;
    mlcube_remote::v1::Job job;
    grpc::Status s;
    if (std::string(argv[2]) == "get") {
      mlcube_remote::v1::GetJobRequest req;
      req.set_job_id(argv[3]);
      s = jobs.GetJob(&ctx, req, &job);
    } else {
      mlcube_remote::v1::CancelJobRequest req;
      req.set_job_id(argv[3]);
      s = jobs.CancelJob(&ctx, req, &job);
    }
    std::cout << s.error_code() << "\n";
    return 0;
  }
  mlcube_remote::v1::Agent::Stub stub(channel);
  grpc::ClientContext ctx;
  mlcube_remote::v1::GetInfoRequest req;
  mlcube_remote::v1::AgentInfo info;
  grpc::Status s = stub.GetInfo(&ctx, req, &info);
  if (!s.ok()) {
    std::cerr << "GetInfo: " << s.error_message() << "\n";
    return 1;
  }
  std::cout << info.caller_identity() << "\n";
  return 0;
}
