#ifndef MLCUBE_REMOTE_AGENT_SERVER_CERTS_INIT_H_
#define MLCUBE_REMOTE_AGENT_SERVER_CERTS_INIT_H_

// `mlcube-agent certs init --dir=DIR --host=NAME...`: a quick-start private
// PKI for mutual TLS. Writes, never overwriting anything:
//   DIR/ca.pem      DIR/ca.key       the CA (keep ca.key offline if you can)
//   DIR/server.pem  DIR/server.key   the agent's certificate: SANs = every
//                                    --host plus localhost, 127.0.0.1, ::1
//   DIR/client.pem  DIR/client.key   a client certificate, CN = --client-name
//                                    (default: the invoking user), which is
//                                    the identity the agent gives its owner
// Keys are mode 0600, certificates 0644, DIR is created 0700.

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace mlcube {

struct CertsInitOptions {
  std::string dir;
  std::vector<std::string> hosts;
  std::string client_name;  // empty: the invoking user's name
};

// Prints what it wrote and the config snippets that use it to `out`.
absl::Status CertsInit(const CertsInitOptions& options, std::ostream& out);

// `mlcube-agent certs client --dir=DIR --name=NAME`: one more client
// certificate from DIR/ca.{pem,key}, written to DIR/NAME.{pem,key}; the agent
// knows its holder as "cn-NAME". Never overwrites.
absl::Status CertsIssueClient(const std::string& dir, const std::string& name, std::ostream& out);

// Writes `content` to a new file (O_EXCL) with `mode`; exposed for tests.
absl::Status WriteNewFile(const std::string& path, const std::string& content, int mode);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SERVER_CERTS_INIT_H_
