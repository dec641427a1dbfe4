#ifndef MLCUBE_REMOTE_AGENT_SERVER_TLS_SERVER_CREDENTIALS_H_
#define MLCUBE_REMOTE_AGENT_SERVER_TLS_SERVER_CREDENTIALS_H_

// The agent's mutual-TLS credentials: its certificate and key, and the CA
// every client certificate must be signed by. gRPC requires and verifies a
// client certificate on every connection; CallerIdentity then names the
// caller after the certificate's common name.
//
// The files are checked here, at start-up, so a mistake (key of another
// certificate, certificate not from that CA, expired, key readable by
// everyone) stops the agent with a message instead of failing every
// handshake later.

#include <grpcpp/security/server_credentials.h>

#include <memory>

#include "absl/status/statusor.h"
#include "agent/config/agent_config.h"

namespace mlcube {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> LoadTlsServerCredentials(
    const AgentTlsConfig& tls);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SERVER_TLS_SERVER_CREDENTIALS_H_
