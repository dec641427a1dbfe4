// A minimal client for integration tests that must call the agent as another
// user: `agent_test_client SOCKET` prints the caller identity GetInfo returns.

#include <grpcpp/grpcpp.h>

#include <iostream>

#include "mlcube_remote/v1/agent.grpc.pb.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: agent_test_client SOCKET_PATH\n";
    return 2;
  }
  auto channel =
      grpc::CreateChannel(std::string("unix://") + argv[1], grpc::InsecureChannelCredentials());
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
