#ifndef MLCUBE_REMOTE_CONTROLLER_UI_DASHBOARD_ACCESS_H_
#define MLCUBE_REMOTE_CONTROLLER_UI_DASHBOARD_ACCESS_H_

// Who may use the dashboard: whoever holds the token printed when it
// started. The token (in the first URL) is exchanged once for a session
// cookie (HttpOnly, SameSite=Strict), so it does not stay in the address
// bar or the history. Every request must name the dashboard itself in its
// Host header (127.0.0.1:PORT or localhost:PORT): a page of another site
// that rebinds its DNS name to 127.0.0.1 is refused. Browsers send cookies
// to every port of a host, so API requests must also carry the request
// ("CSRF") token, which the exchange hands only to the dashboard's own page
// (in a URL fragment, kept in the origin's storage): a server on another
// port that receives the cookie still gets nothing, and neither does a
// forged cross-site request. Secrets are 128 random bits from OpenSSL,
// compared in constant time. Thread-safe: nothing changes after Create.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mlcube {

class DashboardAccess {
 public:
  // The session cookie's name.
  static constexpr absl::string_view kCookieName = "mlcube_ui_session";

  // Fresh secrets for a dashboard listening on `port`; INTERNAL when the
  // system has no randomness to give.
  static absl::StatusOr<DashboardAccess> Create(int port);

  const std::string& token() const { return token_; }
  const std::string& csrf_token() const { return csrf_token_; }
  int port() const { return port_; }

  // True for "127.0.0.1:PORT" and "localhost:PORT" (any letter case).
  bool HostAllowed(absl::string_view host_header) const;
  bool TokenMatches(absl::string_view token) const;
  // True when the Cookie header carries this dashboard's session cookie.
  bool HasSession(absl::string_view cookie_header) const;
  bool CsrfMatches(absl::string_view csrf_header) const;
  // The Set-Cookie header value that starts a session.
  std::string SessionCookieHeader() const;

 private:
  DashboardAccess() = default;

  int port_ = 0;
  std::string token_;
  std::string session_;
  std::string csrf_token_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_UI_DASHBOARD_ACCESS_H_
