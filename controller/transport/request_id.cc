#include "controller/transport/request_id.h"

#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"

namespace mlcube {

namespace {

using grpc::experimental::InterceptionHookPoints;

class RequestIdInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit RequestIdInterceptor(const std::string* request_id) : request_id_(request_id) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"x-request-id", *request_id_});
    }
    methods->Proceed();
  }

 private:
  const std::string* request_id_;  // the factory's, which outlives the channel's calls
};

}  // namespace

std::string NewRequestId() {
  absl::BitGen random;
  return absl::StrFormat("%016x", absl::Uniform<uint64_t>(random));
}

grpc::experimental::Interceptor* RequestIdInterceptorFactory::CreateClientInterceptor(
    grpc::experimental::ClientRpcInfo* /*info*/) {
  return new RequestIdInterceptor(&request_id_);
}

std::shared_ptr<grpc::Channel> CreateChannelWithRequestId(
    const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const grpc::ChannelArguments& arguments, const std::string& request_id) {
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<RequestIdInterceptorFactory>(request_id));
  return grpc::experimental::CreateCustomChannelWithInterceptors(target, credentials, arguments,
                                                                 std::move(factories));
}

}  // namespace mlcube
