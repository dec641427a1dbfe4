#include "controller/ui/dashboard_access.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace mlcube {
namespace {

absl::StatusOr<std::string> RandomHex() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError("dashboard: no random bytes for its token (OpenSSL RAND_bytes)");
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

bool SecretEquals(absl::string_view given, const std::string& secret) {
  return given.size() == secret.size() &&
         CRYPTO_memcmp(given.data(), secret.data(), secret.size()) == 0;
}

}  // namespace

absl::StatusOr<DashboardAccess> DashboardAccess::Create(int port) {
  DashboardAccess access;
  access.port_ = port;
  for (std::string* secret : {&access.token_, &access.session_, &access.csrf_token_}) {
    absl::StatusOr<std::string> value = RandomHex();
    if (!value.ok()) return value.status();
    *secret = std::move(*value);
  }
  return access;
}

bool DashboardAccess::HostAllowed(absl::string_view host_header) const {
  const std::string host = absl::AsciiStrToLower(absl::StripAsciiWhitespace(host_header));
  const std::string port = absl::StrCat(":", port_);
  return host == absl::StrCat("127.0.0.1", port) || host == absl::StrCat("localhost", port);
}

bool DashboardAccess::TokenMatches(absl::string_view token) const {
  return SecretEquals(token, token_);
}

bool DashboardAccess::HasSession(absl::string_view cookie_header) const {
  for (absl::string_view cookie : absl::StrSplit(cookie_header, ';')) {
    cookie = absl::StripAsciiWhitespace(cookie);
    if (!absl::ConsumePrefix(&cookie, kCookieName) || !absl::ConsumePrefix(&cookie, "=")) {
      continue;
    }
    if (SecretEquals(cookie, session_)) return true;
  }
  return false;
}

bool DashboardAccess::CsrfMatches(absl::string_view csrf_header) const {
  return SecretEquals(csrf_header, csrf_token_);
}

std::string DashboardAccess::SessionCookieHeader() const {
  return absl::StrCat(kCookieName, "=", session_, "; Path=/; HttpOnly; SameSite=Strict");
}

}  // namespace mlcube
