#ifndef MLCUBE_REMOTE_AGENT_SERVER_CALL_OBSERVER_INTERCEPTOR_H_
#define MLCUBE_REMOTE_AGENT_SERVER_CALL_OBSERVER_INTERCEPTOR_H_

// A gRPC server interceptor factory that shows every call's ServerContext
// to `observe` once the call's headers have arrived, before any service
// method runs. The agent uses it to learn which identity a TCP connection
// belongs to (TcpListener::OnCall). It observes only: calls proceed
// unchanged.

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_interceptor.h>

#include <functional>
#include <utility>

namespace mlcube {

class CallObserverInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  using Observe = std::function<void(const grpc::ServerContextBase&)>;
  explicit CallObserverInterceptorFactory(Observe observe) : observe_(std::move(observe)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  Observe observe_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SERVER_CALL_OBSERVER_INTERCEPTOR_H_
