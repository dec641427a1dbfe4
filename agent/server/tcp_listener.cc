#include "agent/server/tcp_listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/unique_fd.h"

namespace mlcube {
namespace {

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", strerror(errno)));
}

// The printable address of `addr`, IPv4-mapped IPv6 written as IPv4.
std::string AddressText(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, text, sizeof(text));
    return text;
  }
  const in6_addr& a6 = reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr;
  if (IN6_IS_ADDR_V4MAPPED(&a6)) {
    inet_ntop(AF_INET, a6.s6_addr + 12, text, sizeof(text));
  } else {
    inet_ntop(AF_INET6, &a6, text, sizeof(text));
  }
  return text;
}

// 0 when `fd` is not open.
ino_t InodeOf(int fd) {
  struct stat st {};
  return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

int PortOf(const sockaddr_storage& addr) {
  return ntohs(addr.ss_family == AF_INET ? reinterpret_cast<const sockaddr_in&>(addr).sin_port
                                         : reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
}

// HOST and PORT of "HOST:PORT" ("[::1]:PORT" for IPv6).
bool SplitHostPort(const std::string& host_port, std::string* host, std::string* port) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) return false;
  *host = host_port.substr(0, colon);
  *port = host_port.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return !port->empty();
}

// One bound, listening, non-blocking socket for `ai` on `port`.
absl::StatusOr<UniqueFd> ListenOn(const addrinfo& ai, int port) {
  UniqueFd fd(socket(ai.ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return Errno("socket");
  const int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage addr{};
  memcpy(&addr, ai.ai_addr, ai.ai_addrlen);
  if (ai.ai_family == AF_INET6) {
    // [::] and 0.0.0.0 may both be asked for.
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    reinterpret_cast<sockaddr_in6&>(addr).sin6_port = htons(static_cast<uint16_t>(port));
  } else {
    reinterpret_cast<sockaddr_in&>(addr).sin_port = htons(static_cast<uint16_t>(port));
  }
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), ai.ai_addrlen) != 0) {
    return Errno("bind");
  }
  if (listen(fd.get(), SOMAXCONN) != 0) return Errno("listen");
  return fd;
}

}  // namespace

std::string TcpPeerKey(const std::string& peer) {
  const bool v4 = absl::StartsWith(peer, "ipv4:");
  if (!v4 && !absl::StartsWith(peer, "ipv6:")) return "";
  std::string host, port_text;
  const std::string rest =
      absl::StrReplaceAll(peer.substr(5), {{"%5B", "["}, {"%5b", "["}, {"%5D", "]"}, {"%5d", "]"}});
  if (!SplitHostPort(rest, &host, &port_text)) return "";
  int port = 0;
  if (!absl::SimpleAtoi(port_text, &port)) return "";
  host = host.substr(0, host.find('%'));  // an IPv6 zone
  sockaddr_storage addr{};
  if (v4) {
    addr.ss_family = AF_INET;
    if (inet_pton(AF_INET, host.c_str(), &reinterpret_cast<sockaddr_in&>(addr).sin_addr) != 1) {
      return "";
    }
  } else {
    addr.ss_family = AF_INET6;
    if (inet_pton(AF_INET6, host.c_str(), &reinterpret_cast<sockaddr_in6&>(addr).sin6_addr) != 1) {
      return "";
    }
  }
  return absl::StrCat(AddressText(addr), " ", port);
}

TcpListener::TcpListener(std::string address, ConnectionLimiter* limiter,
                         Clock::duration first_call_deadline)
    : address_(std::move(address)), first_call_deadline_(first_call_deadline), limiter_(limiter) {}

TcpListener::~TcpListener() { Stop(); }

absl::Status TcpListener::Bind() {
  std::string host, port_text;
  int port = 0;
  if (!SplitHostPort(address_, &host, &port_text) || !absl::SimpleAtoi(port_text, &port)) {
    return absl::InvalidArgumentError(absl::StrCat("listen: '", address_, "' is not HOST:PORT"));
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int error =
          getaddrinfo(host.empty() ? nullptr : host.c_str(), port_text.c_str(), &hints, &found);
      error != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen: '", address_, "': ", gai_strerror(error)));
  }
  absl::Status last = absl::UnavailableError(absl::StrCat("listen: '", address_, "': no address"));
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    absl::StatusOr<UniqueFd> fd = ListenOn(*ai, port);
    if (!fd.ok()) {
      last = absl::UnavailableError(
          absl::StrCat("listen: '", address_, "': ", fd.status().message(), " (port in use?)"));
      continue;
    }
    if (port == 0) {
      sockaddr_storage bound{};
      socklen_t len = sizeof(bound);
      getsockname(fd->get(), reinterpret_cast<sockaddr*>(&bound), &len);
      port = PortOf(bound);
    }
    listen_fds_.push_back(fd->Release());
  }
  freeaddrinfo(found);
  if (listen_fds_.empty()) return last;
  port_ = port;
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Errno("eventfd");
  return absl::OkStatus();
}

absl::Status TcpListener::Start(grpc::experimental::ExternalConnectionAcceptor* acceptor) {
  acceptor_ = acceptor;
  try {
    thread_ = std::thread([this] { AcceptLoop(); });
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot start the accept thread of ", address_, ": ", e.what()));
  }
  return absl::OkStatus();
}

void TcpListener::AcceptLoop() {
  Clock::time_point last_housekeeping;
  for (;;) {
    std::vector<pollfd> fds = {{wake_fd_, POLLIN, 0}};
    for (int fd : listen_fds_) fds.push_back({fd, POLLIN, 0});
    bool any;
    {
      absl::MutexLock lock(&mu_);
      any = !connections_.empty();
    }
    const int ready = poll(fds.data(), fds.size(), any ? 1000 : -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents) return;
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents & POLLIN) AcceptOne(fds[i].fd);
    }
    // Once a second, busy or not.
    if (Clock::now() - last_housekeeping >= std::chrono::seconds(1)) {
      last_housekeeping = Clock::now();
      Housekeep();
    }
  }
}

void TcpListener::AcceptOne(int listen_fd) {
  sockaddr_storage peer{};
  socklen_t len = sizeof(peer);
  UniqueFd fd(
      accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!fd) {
    // Out of descriptors (EMFILE) keeps the socket readable: do not spin.
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      Housekeep();
      usleep(50 * 1000);
    }
    return;
  }
  // As gRPC's own listener does: small frames (a call's headers, a
  // handshake's records) go out at once, not after a delayed ACK.
  const int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  const std::string address = AddressText(peer);
  {
    absl::MutexLock lock(&mu_);
    // Refused: closed here (a TLS client cannot be told why before its
    // handshake).
    if (!limiter_->Admit(absl::StrCat("address ", address), fd.get()).ok()) return;
    ForgetLocked(fd.get());  // an earlier connection with this number ended
    const std::string key = absl::StrCat(address, " ", PortOf(peer));
    connections_[fd.get()] = Connection{key, InodeOf(fd.get()), Clock::now(), false};
    fd_of_peer_[key] = fd.get();
  }
  // gRPC owns the fd from here on and closes it with the connection.
  grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters params;
  params.listener_fd = listen_fd;
  params.fd = fd.Release();
  acceptor_->HandleNewConnection(&params);
}

void TcpListener::OnCall(const std::string& peer,
                         const std::function<absl::StatusOr<std::string>()>& identify) {
  const std::string key = TcpPeerKey(peer);
  if (key.empty()) return;
  {
    absl::MutexLock lock(&mu_);
    auto it = fd_of_peer_.find(key);
    if (it == fd_of_peer_.end() || connections_.at(it->second).identified) return;
  }
  // Outside the lock: for plain loopback TCP this reads the socket table.
  absl::StatusOr<std::string> identity = identify();
  if (!identity.ok()) return;  // the call itself is refused for that
  absl::MutexLock lock(&mu_);
  auto it = fd_of_peer_.find(key);
  if (it == fd_of_peer_.end()) return;
  const int fd = it->second;
  if (connections_.at(fd).identified) return;
  if (InodeOf(fd) != connections_.at(fd).ino) {
    ForgetLocked(fd);  // it ended; the number is another's now
    return;
  }
  if (!limiter_->Reassign(fd, *identity).ok()) {
    EndLocked(fd);
    return;
  }
  connections_.at(fd).identified = true;
}

void TcpListener::ForgetLocked(int fd) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  auto peer = fd_of_peer_.find(it->second.peer_key);
  if (peer != fd_of_peer_.end() && peer->second == fd) fd_of_peer_.erase(peer);
  connections_.erase(it);
}

void TcpListener::EndLocked(int fd) {
  ForgetLocked(fd);
  limiter_->Forget(fd);
  // gRPC sees the connection end and closes the descriptor itself.
  shutdown(fd, SHUT_RDWR);
}

void TcpListener::Housekeep() {
  absl::MutexLock lock(&mu_);
  limiter_->Sweep();
  const Clock::time_point now = Clock::now();
  std::vector<int> ended, late;
  for (const auto& [fd, connection] : connections_) {
    if (!limiter_->Remembers(fd) || InodeOf(fd) != connection.ino) {
      ended.push_back(fd);
    } else if (!connection.identified && now - connection.admitted > first_call_deadline_) {
      late.push_back(fd);
    }
  }
  for (int fd : ended) ForgetLocked(fd);
  for (int fd : late) EndLocked(fd);
}

void TcpListener::Stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    // Discarded on purpose: a full eventfd has woken the thread already.
    (void)!write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  for (int fd : listen_fds_) close(fd);
  listen_fds_.clear();
  if (wake_fd_ >= 0) {
    close(wake_fd_);
    wake_fd_ = -1;
  }
}

}  // namespace mlcube
