#include "agent/server/tls_server_credentials.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mlcube {
namespace {

struct Free {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};

absl::StatusOr<std::string> ReadFile(const std::string& path, const std::string& key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("tls.", key, ": cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::unique_ptr<X509, Free> ParseCert(const std::string& pem) {
  std::unique_ptr<BIO, Free> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return std::unique_ptr<X509, Free>(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> LoadTlsServerCredentials(
    const AgentTlsConfig& tls) {
  auto ca = ReadFile(tls.ca, "ca");
  if (!ca.ok()) return ca.status();
  auto cert = ReadFile(tls.cert, "cert");
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(tls.key, "key");
  if (!key.ok()) return key.status();

  struct stat key_stat {};
  if (stat(tls.key.c_str(), &key_stat) == 0 && (key_stat.st_mode & 0004) != 0) {
    return absl::PermissionDeniedError(
        absl::StrFormat("tls.key: %s is readable by every user (mode %04o); chmod 600 it", tls.key,
                        key_stat.st_mode & 07777));
  }
  std::unique_ptr<X509, Free> ca_cert = ParseCert(*ca);
  if (!ca_cert)
    return absl::InvalidArgumentError("tls.ca: " + tls.ca + " is not a PEM certificate");
  std::unique_ptr<X509, Free> server_cert = ParseCert(*cert);
  if (!server_cert) {
    return absl::InvalidArgumentError("tls.cert: " + tls.cert + " is not a PEM certificate");
  }
  std::unique_ptr<BIO, Free> key_bio(BIO_new_mem_buf(key->data(), static_cast<int>(key->size())));
  std::unique_ptr<EVP_PKEY, Free> private_key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!private_key) {
    return absl::InvalidArgumentError("tls.key: " + tls.key +
                                      " is not an unencrypted PEM private key");
  }
  if (X509_check_private_key(server_cert.get(), private_key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("tls.key: ", tls.key, " is not the key of ", tls.cert));
  }
  // The server certificate must chain to the CA clients are told to trust
  // (certs init makes them together); this also catches an expired one.
  std::unique_ptr<X509_STORE, Free> store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca_cert.get());
  std::unique_ptr<X509_STORE_CTX, Free> context(X509_STORE_CTX_new());
  X509_STORE_CTX_init(context.get(), store.get(), server_cert.get(), nullptr);
  if (X509_verify_cert(context.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(context.get());
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat("tls.cert: ", tls.cert,
                                                   " does not verify against ", tls.ca, ": ",
                                                   X509_verify_cert_error_string(error)));
  }

  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = *ca;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(options);
}

}  // namespace mlcube
