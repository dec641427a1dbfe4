#ifndef MLCUBE_REMOTE_CONTROLLER_TRANSPORT_REQUEST_ID_H_
#define MLCUBE_REMOTE_CONTROLLER_TRANSPORT_REQUEST_ID_H_

// Every call on an agent channel carries the channel's request id in the
// `x-request-id` header, so the agent's log records of what one command did
// on one host share it (`journalctl -u mlcube-agent MLCUBE_REQUEST_ID=ID`,
// or `request_id` in its JSON log).

#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"
#include "grpcpp/support/client_interceptor.h"

namespace mlcube {

// A fresh id: 16 lowercase hex digits, as the agent accepts it.
std::string NewRequestId();

// A channel to `target` whose calls all carry `request_id`.
std::shared_ptr<grpc::Channel> CreateChannelWithRequestId(
    const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const grpc::ChannelArguments& arguments, const std::string& request_id);

// Adds `x-request-id: ID` to each call's initial metadata.
class RequestIdInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit RequestIdInterceptorFactory(std::string request_id)
      : request_id_(std::move(request_id)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override;

 private:
  const std::string request_id_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_TRANSPORT_REQUEST_ID_H_
