// The private PKI that `certs init` makes: chains verify, usages and names
// are right, validity can be placed in the past; the identity a certificate
// gives; the agent's tls: config block.

#include "agent/server/tls_certificate_factory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>

#include "agent/config/agent_config.h"
#include "agent/server/caller_identity.h"

namespace mlcube {
namespace {

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using Cert = std::unique_ptr<X509, X509Free>;

Cert Parse(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  Cert cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return cert;
}

// X509_V_OK, or the verification error of `leaf` against `ca` for `purpose`.
int Verify(const PemKeyPair& ca, const PemKeyPair& leaf, int purpose) {
  Cert ca_cert = Parse(ca.cert);
  Cert leaf_cert = Parse(leaf.cert);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca_cert.get());
  X509_STORE_CTX* context = X509_STORE_CTX_new();
  X509_STORE_CTX_init(context, store, leaf_cert.get(), nullptr);
  X509_STORE_CTX_set_purpose(context, purpose);
  const int ok = X509_verify_cert(context);
  const int error = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(context);
  X509_STORE_CTX_free(context);
  X509_STORE_free(store);
  return error;
}

class TlsCertificateFactoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = TlsCertificateFactory::MakeCa("test CA");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *ca;
  }
  PemKeyPair Leaf(CertificateRequest request) {
    auto leaf = TlsCertificateFactory::MakeLeaf(ca_, request);
    EXPECT_TRUE(leaf.ok()) << leaf.status();
    return leaf.ok() ? *leaf : PemKeyPair{};
  }
  PemKeyPair ca_;
};

TEST_F(TlsCertificateFactoryTest, KeysArePkcs8AndCertificatesPem) {
  EXPECT_THAT(ca_.key, ::testing::StartsWith("-----BEGIN PRIVATE KEY-----"));
  EXPECT_THAT(ca_.cert, ::testing::StartsWith("-----BEGIN CERTIFICATE-----"));
  Cert ca = Parse(ca_.cert);
  ASSERT_NE(ca, nullptr);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
}

TEST_F(TlsCertificateFactoryTest, ServerCertificateVerifiesForServersWithItsNames) {
  CertificateRequest request;
  request.common_name = "gpu01";
  request.usage = CertificateRequest::Usage::kServer;
  request.subject_alt_names = {"gpu01.example.org", "10.0.0.7", "::1"};
  PemKeyPair server = Leaf(request);
  EXPECT_EQ(Verify(ca_, server, X509_PURPOSE_SSL_SERVER), X509_V_OK);
  EXPECT_NE(Verify(ca_, server, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  Cert cert = Parse(server.cert);
  EXPECT_EQ(X509_check_host(cert.get(), "gpu01.example.org", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "10.0.0.7", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "::1", 0), 1);
  // An IP literal is an IP SAN, not a DNS name.
  EXPECT_NE(X509_check_host(cert.get(), "10.0.0.7", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
}

TEST_F(TlsCertificateFactoryTest, ClientCertificateVerifiesForClientsOnly) {
  CertificateRequest request;
  request.common_name = "alice";
  PemKeyPair client = Leaf(request);
  EXPECT_EQ(Verify(ca_, client, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_NE(Verify(ca_, client, X509_PURPOSE_SSL_SERVER), X509_V_OK);
}

TEST_F(TlsCertificateFactoryTest, ValidityCanLieInThePast) {
  CertificateRequest request;
  request.common_name = "alice";
  request.not_before_offset_seconds = -2 * 86400;
  request.valid_seconds = 86400;
  EXPECT_EQ(Verify(ca_, Leaf(request), X509_PURPOSE_SSL_CLIENT), X509_V_ERR_CERT_HAS_EXPIRED);
}

TEST_F(TlsCertificateFactoryTest, AnotherCaDoesNotVerify) {
  auto other = TlsCertificateFactory::MakeCa("other CA");
  ASSERT_TRUE(other.ok());
  CertificateRequest request;
  request.common_name = "alice";
  EXPECT_NE(Verify(*other, Leaf(request), X509_PURPOSE_SSL_CLIENT), X509_V_OK);
}

TEST_F(TlsCertificateFactoryTest, SerialNumbersDiffer) {
  CertificateRequest request;
  request.common_name = "alice";
  Cert a = Parse(Leaf(request).cert);
  Cert b = Parse(Leaf(request).cert);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get_serialNumber(a.get()), X509_get_serialNumber(b.get())), 0);
}

TEST(CallerIdentityFromCommonNameTest, SafeNamesOnly) {
  EXPECT_EQ(*CallerIdentityFromCommonName("alice"), "cn-alice");
  EXPECT_EQ(*CallerIdentityFromCommonName("alice.smith@lab-1_x"), "cn-alice.smith@lab-1_x");
  for (const char* bad : {"", "../alice", "a/b", ".hidden", "alice bob", "al\nice"}) {
    auto identity = CallerIdentityFromCommonName(bad);
    EXPECT_EQ(identity.status().code(), absl::StatusCode::kUnauthenticated) << bad;
  }
  EXPECT_FALSE(CallerIdentityFromCommonName(std::string(65, 'a')).ok());
  EXPECT_TRUE(CallerIdentityFromCommonName(std::string(64, 'a')).ok());
}

TEST(AgentTlsConfigTest, ParsesAllThreeAbsolutePaths) {
  auto config = ParseAgentConfig("tls: {ca: /c/ca.pem, cert: /c/s.pem, key: /c/s.key}\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->tls.enabled());
  EXPECT_EQ(config->tls.ca, "/c/ca.pem");
  EXPECT_EQ(config->tls.cert, "/c/s.pem");
  EXPECT_EQ(config->tls.key, "/c/s.key");
  EXPECT_FALSE(config->insecure);
  EXPECT_FALSE(ParseAgentConfig("listen: [unix:///a.sock]\n")->tls.enabled());
}

TEST(AgentTlsConfigTest, NamesTheBadKey) {
  auto missing = ParseAgentConfig("tls: {ca: /c/ca.pem, cert: /c/s.pem}\n");
  EXPECT_THAT(missing.status().message(), ::testing::HasSubstr("tls.key: required key"));
  auto unknown = ParseAgentConfig("tls: {ca: /a, cert: /b, key: /c, password: x}\n");
  EXPECT_THAT(unknown.status().message(), ::testing::HasSubstr("tls.password: unknown key"));
  auto relative = ParseAgentConfig("tls: {ca: ca.pem, cert: /b, key: /c}\n");
  EXPECT_THAT(relative.status().message(), ::testing::HasSubstr("tls.ca: 'ca.pem'"));
  auto scalar = ParseAgentConfig("tls: yes\n");
  EXPECT_THAT(scalar.status().message(), ::testing::HasSubstr("tls: expected a mapping"));
  // `insecure` is a flag only: a config file cannot switch TLS off.
  EXPECT_FALSE(ParseAgentConfig("insecure: true\n").ok());
}

TEST(AgentUnixSocketConfigTest, ModeIsOctalAndGroupANonEmptyName) {
  auto config = ParseAgentConfig("unix_socket: {mode: \"0660\", group: mlcube-users}\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->unix_socket_mode, 0660);
  EXPECT_EQ(config->unix_socket_group, "mlcube-users");
  EXPECT_EQ(ParseAgentConfig("")->unix_socket_mode, 0666);
  for (const char* bad : {"unix_socket: {mode: \"0999\"}\n", "unix_socket: {mode: \"01777\"}\n",
                          "unix_socket: {mode: rw}\n", "unix_socket: {group: \"\"}\n",
                          "unix_socket: {owner: x}\n", "unix_socket: 0660\n"}) {
    EXPECT_FALSE(ParseAgentConfig(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace mlcube
