#include "agent/server/tls_certificate_factory.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mlcube {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Free>;
using Cert = std::unique_ptr<X509, Free>;
using Bio = std::unique_ptr<BIO, Free>;

absl::Status OpenSslError(absl::string_view what) {
  char buffer[256] = "unknown error";
  const unsigned long code = ERR_get_error();
  if (code != 0) ERR_error_string_n(code, buffer, sizeof(buffer));
  ERR_clear_error();
  return absl::InternalError(absl::StrCat("certs: ", what, ": ", buffer));
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n);
}

absl::StatusOr<Key> NewKey() {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("cannot generate an EC P-256 key");
  return key;
}

absl::StatusOr<std::string> KeyPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) {
    return OpenSslError("cannot encode a private key");
  }
  return BioText(bio.get());
}

absl::StatusOr<std::string> CertPem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) return OpenSslError("cannot encode a certificate");
  return BioText(bio.get());
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, Free> extension(
      X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str()));
  if (!extension || !X509_add_ext(cert, extension.get(), -1)) {
    return OpenSslError(absl::StrCat("cannot add extension ", OBJ_nid2sn(nid), "=", value));
  }
  return absl::OkStatus();
}

// A new certificate for `key` named `common_name`, with a random 127-bit
// serial and the given validity; not yet signed.
absl::StatusOr<Cert> NewCert(EVP_PKEY* key, const std::string& common_name,
                             int64_t not_before_offset, int64_t valid_seconds) {
  Cert cert(X509_new());
  if (!cert || !X509_set_version(cert.get(), 2)) return OpenSslError("X509_new");
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof(serial_bytes)) != 1) return OpenSslError("RAND_bytes");
  serial_bytes[0] &= 0x7f;  // positive
  std::unique_ptr<BIGNUM, Free> serial(BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr));
  if (!serial || !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()))) {
    return OpenSslError("cannot set the serial number");
  }
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before_offset) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_before_offset + valid_seconds)) {
    return OpenSslError("cannot set the validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>("mlcube-remote"), -1, -1,
                                  0) ||
      !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                  -1, 0)) {
    return OpenSslError("cannot set the subject name");
  }
  if (!X509_set_pubkey(cert.get(), key)) return OpenSslError("cannot set the public key");
  return cert;
}

bool IsIpLiteral(const std::string& text) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

absl::StatusOr<Key> ParseKey(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return OpenSslError("cannot parse the CA key");
  return key;
}

absl::StatusOr<Cert> ParseCert(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return OpenSslError("cannot parse the CA certificate");
  return cert;
}

}  // namespace

namespace {

// The key and certificate as PEM text.
absl::StatusOr<PemKeyPair> ToPemPair(EVP_PKEY* key, X509* cert) {
  auto key_pem = KeyPem(key);
  if (!key_pem.ok()) return key_pem.status();
  auto cert_pem = CertPem(cert);
  if (!cert_pem.ok()) return cert_pem.status();
  PemKeyPair out;
  out.key = *key_pem;
  out.cert = *cert_pem;
  return out;
}

}  // namespace

absl::StatusOr<PemKeyPair> TlsCertificateFactory::MakeCa(const std::string& common_name,
                                                         int64_t valid_seconds) {
  auto key = NewKey();
  if (!key.ok()) return key.status();
  auto cert = NewCert(key->get(), common_name, -300, valid_seconds);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  if (!X509_set_issuer_name(c, X509_get_subject_name(c))) return OpenSslError("issuer name");
  for (const auto& [nid, value] :
       {std::pair<int, std::string>{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
        {NID_key_usage, "critical,keyCertSign,cRLSign"},
        {NID_subject_key_identifier, "hash"}}) {
    absl::Status s = AddExtension(c, c, nid, value);
    if (!s.ok()) return s;
  }
  if (!X509_sign(c, key->get(), EVP_sha256())) return OpenSslError("cannot sign the CA");
  return ToPemPair(key->get(), c);
}

absl::StatusOr<PemKeyPair> TlsCertificateFactory::MakeLeaf(const PemKeyPair& ca,
                                                           const CertificateRequest& request) {
  auto ca_key = ParseKey(ca.key);
  if (!ca_key.ok()) return ca_key.status();
  auto ca_cert = ParseCert(ca.cert);
  if (!ca_cert.ok()) return ca_cert.status();
  auto key = NewKey();
  if (!key.ok()) return key.status();
  auto cert = NewCert(key->get(), request.common_name, request.not_before_offset_seconds,
                      request.valid_seconds);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  if (!X509_set_issuer_name(c, X509_get_subject_name(ca_cert->get()))) {
    return OpenSslError("issuer name");
  }
  const bool server = request.usage == CertificateRequest::Usage::kServer;
  std::vector<std::pair<int, std::string>> extensions = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature,keyAgreement"},
      {NID_ext_key_usage, server ? "serverAuth" : "clientAuth"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
  };
  if (!request.subject_alt_names.empty()) {
    std::vector<std::string> names;
    for (const std::string& name : request.subject_alt_names) {
      names.push_back(absl::StrCat(IsIpLiteral(name) ? "IP:" : "DNS:", name));
    }
    extensions.push_back({NID_subject_alt_name, absl::StrJoin(names, ",")});
  }
  for (const auto& [nid, value] : extensions) {
    absl::Status s = AddExtension(c, ca_cert->get(), nid, value);
    if (!s.ok()) return s;
  }
  if (!X509_sign(c, ca_key->get(), EVP_sha256())) return OpenSslError("cannot sign");
  return ToPemPair(key->get(), c);
}

}  // namespace mlcube
