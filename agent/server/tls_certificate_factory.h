#ifndef MLCUBE_REMOTE_AGENT_SERVER_TLS_CERTIFICATE_FACTORY_H_
#define MLCUBE_REMOTE_AGENT_SERVER_TLS_CERTIFICATE_FACTORY_H_

// Makes the keys and X.509 certificates of a small private PKI with
// OpenSSL's library (no shell-out to `openssl`): one CA that signs the
// agent's server certificate and the users' client certificates. Keys are
// ECDSA P-256, which gRPC's TLS stack and every OpenSSL accept; signatures
// SHA-256.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mlcube {

// A key and a certificate, PEM encoded.
struct PemKeyPair {
  std::string key;   // PKCS#8, unencrypted: keep it mode 0600
  std::string cert;  // X.509
};

struct CertificateRequest {
  std::string common_name;
  // Server certificates: DNS names and IP addresses the agent is reached at
  // (each entry is classified: an IPv4/IPv6 literal becomes an IP SAN).
  std::vector<std::string> subject_alt_names;
  enum class Usage { kServer, kClient } usage = Usage::kClient;
  // Validity from `not_before_offset_seconds` (relative to now; negative:
  // in the past) for `valid_seconds`. Tests make expired certificates with
  // a start in the past and a short validity.
  int64_t not_before_offset_seconds = -300;  // tolerate clock skew
  int64_t valid_seconds = 825LL * 24 * 3600;
};

class TlsCertificateFactory {
 public:
  // A self-signed CA certificate, valid for `valid_seconds`.
  static absl::StatusOr<PemKeyPair> MakeCa(const std::string& common_name,
                                           int64_t valid_seconds = 10LL * 365 * 24 * 3600);
  // A leaf certificate for a fresh key, signed by `ca`.
  static absl::StatusOr<PemKeyPair> MakeLeaf(const PemKeyPair& ca,
                                             const CertificateRequest& request);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SERVER_TLS_CERTIFICATE_FACTORY_H_
