#include "agent/server/call_observer_interceptor.h"

namespace mlcube {
namespace {

class CallObserver final : public grpc::experimental::Interceptor {
 public:
  CallObserver(grpc::experimental::ServerRpcInfo* info,
               const CallObserverInterceptorFactory::Observe* observe)
      : info_(info), observe_(observe) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::POST_RECV_INITIAL_METADATA) &&
        info_->server_context() != nullptr) {
      (*observe_)(*info_->server_context());
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  const CallObserverInterceptorFactory::Observe* observe_;
};

}  // namespace

grpc::experimental::Interceptor* CallObserverInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new CallObserver(info, &observe_);
}

}  // namespace mlcube
