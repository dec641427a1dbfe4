#include "agent/server/caller_identity.h"

#include <arpa/inet.h>
#include <grpc/grpc_security_constants.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mlcube {
namespace {

absl::StatusOr<std::string> IdentityOfUnixFd(int fd) {
  int domain = 0;
  socklen_t len = sizeof(domain);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != AF_UNIX) {
    return absl::UnauthenticatedError("caller's connection is not a unix socket");
  }
  struct ucred cred {};
  len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return absl::UnauthenticatedError("cannot read the unix socket peer's credentials");
  }
  return absl::StrCat("uid-", cred.uid);
}

// Formats an address the way /proc/net/tcp{,6} prints it: each 32-bit word
// of the address as the host-order integer in %08X.
std::string ProcNetAddress(const unsigned char* bytes, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; i += 4) {
    uint32_t word;
    memcpy(&word, bytes + i, 4);
    out += absl::StrFormat("%08X", word);
  }
  return out;
}

// Finds the uid owning the socket whose local end is `local` (as in
// /proc/net/tcp) in ESTABLISHED state.
absl::StatusOr<unsigned> UidOfLocalEnd(const std::string& table, const std::string& local) {
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string sl, local_address, remote_address, state, queues, timer, retransmit;
    unsigned uid = 0;
    if (!(fields >> sl >> local_address >> remote_address >> state >> queues >> timer >>
          retransmit >> uid)) {
      continue;
    }
    if (state == "01" && local_address == local) return uid;
  }
  return absl::NotFoundError("no such socket");
}

absl::StatusOr<std::string> IdentityOfLoopbackTcp(const std::string& peer) {
  // "ipv4:127.0.0.1:5000" or "ipv6:[::1]:5000"
  const bool v6 = absl::StartsWith(peer, "ipv6:");
  std::string rest = peer.substr(5);
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos) return absl::UnauthenticatedError("unparsable peer " + peer);
  int port = 0;
  if (!absl::SimpleAtoi(rest.substr(colon + 1), &port)) {
    return absl::UnauthenticatedError("unparsable peer " + peer);
  }
  std::string host = rest.substr(0, colon);
  if (v6 && host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  const std::string port_hex = absl::StrFormat(":%04X", port);
  std::vector<std::pair<std::string, std::string>> candidates;  // table, local
  if (!v6) {
    in_addr a4{};
    if (inet_pton(AF_INET, host.c_str(), &a4) != 1 || (ntohl(a4.s_addr) >> 24) != 127) {
      return absl::UnauthenticatedError("plain TCP callers must be on loopback: " + peer);
    }
    candidates.push_back(
        {"/proc/net/tcp", ProcNetAddress(reinterpret_cast<unsigned char*>(&a4), 4) + port_hex});
    unsigned char mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memcpy(mapped + 12, &a4, 4);
    candidates.push_back({"/proc/net/tcp6", ProcNetAddress(mapped, 16) + port_hex});
  } else {
    in6_addr a6{};
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1 || !IN6_IS_ADDR_LOOPBACK(&a6)) {
      return absl::UnauthenticatedError("plain TCP callers must be on loopback: " + peer);
    }
    candidates.push_back({"/proc/net/tcp6", ProcNetAddress(a6.s6_addr, 16) + port_hex});
  }
  for (const auto& [table, local] : candidates) {
    auto uid = UidOfLocalEnd(table, local);
    if (uid.ok()) return absl::StrCat("uid-", *uid);
  }
  return absl::UnauthenticatedError("cannot find the owner of loopback connection " + peer);
}

}  // namespace

absl::StatusOr<std::string> CallerIdentityFromPeer(const std::string& peer) {
  if (absl::StartsWith(peer, "fd:")) {
    int fd = -1;
    if (!absl::SimpleAtoi(peer.substr(3), &fd) || fd < 0) {
      return absl::UnauthenticatedError("unparsable peer " + peer);
    }
    return IdentityOfUnixFd(fd);
  }
  if (absl::StartsWith(peer, "ipv4:") || absl::StartsWith(peer, "ipv6:")) {
    return IdentityOfLoopbackTcp(peer);
  }
  return absl::UnauthenticatedError(absl::StrCat("cannot identify the caller at '", peer, "'"));
}

absl::StatusOr<std::string> CallerIdentityFromCommonName(const std::string& common_name) {
  bool safe = !common_name.empty() && common_name.size() <= 64 && common_name[0] != '.';
  for (char c : common_name) {
    safe = safe && (absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '@' || c == '-');
  }
  if (!safe) {
    return absl::UnauthenticatedError(absl::StrCat(
        "client certificate common name '", common_name,
        "' is not usable as an identity (1-64 of A-Z a-z 0-9 . _ @ -, not starting with a dot)"));
  }
  return absl::StrCat("cn-", common_name);
}

absl::StatusOr<std::string> CallerIdentity(const grpc::ServerContextBase& context) {
  // A TLS connection is identified by its verified client certificate, never
  // by its address.
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr) {
    const auto security = auth->FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME);
    if (!security.empty() && security.front() == GRPC_SSL_TRANSPORT_SECURITY_TYPE) {
      if (!auth->IsPeerAuthenticated()) {
        return absl::UnauthenticatedError("TLS caller presented no verified client certificate");
      }
      const auto names = auth->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
      if (names.size() != 1) {
        return absl::UnauthenticatedError("client certificate has no single common name");
      }
      return CallerIdentityFromCommonName(std::string(names.front().data(), names.front().size()));
    }
  }
  return CallerIdentityFromPeer(context.peer());
}

}  // namespace mlcube
