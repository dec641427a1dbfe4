#ifndef MLCUBE_REMOTE_AGENT_SERVER_CALLER_IDENTITY_H_
#define MLCUBE_REMOTE_AGENT_SERVER_CALLER_IDENTITY_H_

// Who is calling. The identity names the owner of jobs and workspaces
// (STATE/cubes/OWNER/...), so it is also a safe directory name.
//
// - A unix-socket peer is "uid-<N>", N from SO_PEERCRED. gRPC 1.51 does not
//   expose peer credentials, so AgentServer accepts unix connections itself
//   and hands each socket to gRPC with AddInsecureChannelFromFd; gRPC then
//   names the peer "fd:<N>" and the socket is still open while a call on it
//   runs, so SO_PEERCRED can be read from it here.
// - A loopback TCP peer (plain TCP is only allowed on loopback) is also
//   "uid-<N>": the kernel's socket table (/proc/net/tcp, tcp6) says which
//   user owns the client end of the connection.
// - A mutual-TLS peer is "cn-<CN>", CN the common name of its client
//   certificate (verified against the agent's CA by gRPC). A CN that is not
//   a safe directory name is refused rather than rewritten, so two
//   certificates can never map to one owner.

#include <grpcpp/server_context.h>

#include <string>

#include "absl/status/statusor.h"

namespace mlcube {

// UNAUTHENTICATED when the caller cannot be identified.
absl::StatusOr<std::string> CallerIdentity(const grpc::ServerContextBase& context);

// The same from a gRPC peer string ("fd:7", "ipv4:127.0.0.1:5000",
// "ipv6:[::1]:5000"); exposed for tests.
absl::StatusOr<std::string> CallerIdentityFromPeer(const std::string& peer);

// "cn-<common_name>" when the name is 1-64 of [A-Za-z0-9._@-] and does not
// start with a dot; UNAUTHENTICATED otherwise. Exposed for tests.
absl::StatusOr<std::string> CallerIdentityFromCommonName(const std::string& common_name);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SERVER_CALLER_IDENTITY_H_
