#include "controller/transport/ssh_tunnel.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mlcube {

// One gRPC connection carried by one SSH channel.
struct SshTunnel::Link {
  int fd = -1;  // the local end gRPC connected to (non-blocking)
  ssh_channel channel = nullptr;
  std::string to_remote;  // read from gRPC, waiting for SSH window
  std::string to_local;   // read from the channel, waiting for the socket
  bool local_eof = false;
  bool eof_sent = false;
  bool remote_eof = false;
  bool local_shut = false;

  ~Link() {
    if (channel != nullptr) {
      if (ssh_channel_is_open(channel)) ssh_channel_close(channel);
      ssh_channel_free(channel);
    }
    if (fd >= 0) close(fd);
  }
};

namespace {

// Buffers are bounded: at most this much waits in each direction per link.
constexpr size_t kChunk = 64 * 1024;

}  // namespace

SshTunnel::SshTunnel(Options options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<SshTunnel>> SshTunnel::Open(Options options) {
  std::unique_ptr<SshTunnel> tunnel(new SshTunnel(std::move(options)));
  auto session = SshSession::Connect(tunnel->options_.ssh, tunnel->options_.ssh_dir);
  if (!session.ok()) return session.status();
  tunnel->session_ = std::move(*session);
  if (tunnel->options_.remote.empty() && tunnel->options_.resolve_remote) {
    absl::StatusOr<std::string> resolved = tunnel->options_.resolve_remote(*tunnel->session_);
    if (!resolved.ok()) return resolved.status();
    tunnel->options_.remote = *resolved;
  }
  const std::string& remote = tunnel->options_.remote;
  tunnel->description_ = absl::StrCat("ssh://", tunnel->session_->description(),
                                      absl::StartsWith(remote, "/") ? "" : " -> ", remote);
  // Probe the agent's socket once so a missing agent is reported by name.
  auto probe = tunnel->OpenChannel();
  if (!probe.ok()) return probe.status();
  ssh_channel_close(*probe);
  ssh_channel_free(*probe);

  absl::Status s = tunnel->Listen();
  if (!s.ok()) return s;
  s = tunnel->session_->StartEventLoop();
  if (!s.ok()) return s;
  tunnel->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (tunnel->wake_fd_ < 0) return absl::InternalError("eventfd failed");
  tunnel->pump_ = std::thread([t = tunnel.get()] { t->Pump(); });
  return tunnel;
}

SshTunnel::~SshTunnel() {
  if (pump_.joinable()) {
    const uint64_t one = 1;
    // Discarded on purpose: a full eventfd has woken the thread already.
    (void)!write(wake_fd_, &one, sizeof(one));
    pump_.join();
  }
  links_.clear();  // channels before the session
  session_.reset();
  if (wake_fd_ >= 0) close(wake_fd_);
  if (listen_fd_ >= 0) close(listen_fd_);
  if (!socket_path_.empty()) unlink(socket_path_.c_str());
  if (!dir_.empty()) rmdir(dir_.c_str());
}

absl::Status SshTunnel::Listen() {
  // A private directory: only this user may connect to the proxy socket,
  // which otherwise would hand our SSH identity to any local user.
  const char* tmp = getenv("TMPDIR");
  std::string base = (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
  // sun_path holds 108 bytes; fall back to /tmp when TMPDIR is long.
  if (base.size() > 60) base = "/tmp";
  std::string pattern = base + "/mlcube-ssh-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot create a temp dir in ", base, ": ", strerror(errno)));
  }
  dir_ = pattern;
  chmod(dir_.c_str(), 0700);
  socket_path_ = dir_ + "/proxy.sock";
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) return absl::InternalError("socket(AF_UNIX) failed");
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  memcpy(address.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listen_fd_, 16) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot listen on ", socket_path_, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<ssh_channel> SshTunnel::OpenChannel() {
  ssh_session raw = session_->get();
  ssh_channel channel = ssh_channel_new(raw);
  if (channel == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("ssh: cannot create a channel: ", ssh_get_error(raw)));
  }
  // Opening blocks for one round trip (bounded by the SSH timeout); data for
  // other channels arriving meanwhile is buffered by libssh.
  ssh_set_blocking(raw, 1);
  int rc;
  const std::string& remote = options_.remote;
  if (!remote.empty() && remote[0] == '/') {
    rc = ssh_channel_open_forward_unix(channel, remote.c_str(), "127.0.0.1", 0);
  } else {
    const size_t colon = remote.rfind(':');
    int port = 0;
    if (colon == std::string::npos || !absl::SimpleAtoi(remote.substr(colon + 1), &port)) {
      ssh_set_blocking(raw, 0);
      ssh_channel_free(channel);
      return absl::InvalidArgumentError(
          absl::StrCat("agent address '", remote, "': expected /path/to/agent.sock or HOST:PORT"));
    }
    std::string host = remote.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);  // [::1] -> ::1
    }
    rc = ssh_channel_open_forward(channel, host.c_str(), port, "127.0.0.1", 0);
  }
  ssh_set_blocking(raw, 0);
  if (rc != SSH_OK) {
    std::string error = ssh_get_error(raw);
    ssh_channel_free(channel);
    return absl::UnavailableError(absl::StrCat(
        "ssh: connected to ", session_->description(), " but cannot reach the agent at ", remote,
        ": ", error, " (is mlcube-agent running there and listening on ", remote,
        "? does the sshd allow forwarding: AllowStreamLocalForwarding / AllowTcpForwarding?)"));
  }
  return channel;
}

void SshTunnel::Accept() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    // The directory is private already; checking the peer as well costs
    // nothing and keeps our SSH identity ours should the mode ever change.
    struct ucred peer {};
    socklen_t length = sizeof(peer);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0 || peer.uid != getuid()) {
      close(fd);
      continue;
    }
    if (!session_ || !session_->Connected()) {
      // The SSH connection dropped (laptop slept, network changed): gRPC is
      // reconnecting, so make a new one.
      links_.clear();
      session_.reset();
      auto session = SshSession::Connect(options_.ssh, options_.ssh_dir);
      if (!session.ok() || !(*session)->StartEventLoop().ok()) {
        std::cerr << "mlcube-remote: " << session.status().message() << std::endl;
        close(fd);
        continue;
      }
      session_ = std::move(*session);
    }
    auto channel = OpenChannel();
    if (!channel.ok()) {
      std::cerr << "mlcube-remote: " << channel.status().message() << std::endl;
      close(fd);
      continue;
    }
    auto link = std::make_unique<Link>();
    link->fd = fd;
    link->channel = *channel;
    links_.push_back(std::move(link));
  }
}

bool SshTunnel::Service(Link& link) {
  char buffer[kChunk];
  // Remote -> local. Reading from the channel is what re-opens its window,
  // so stop reading while gRPC is not keeping up.
  while (!link.remote_eof && link.to_local.size() < kChunk) {
    const int n = ssh_channel_read_nonblocking(link.channel, buffer, sizeof(buffer), 0);
    if (n > 0) {
      link.to_local.append(buffer, n);
    } else if (n == SSH_EOF || (n == 0 && ssh_channel_is_eof(link.channel))) {
      link.remote_eof = true;
    } else if (n < 0) {
      return false;
    } else {
      break;
    }
  }
  while (!link.to_local.empty()) {
    const ssize_t n = send(link.fd, link.to_local.data(), link.to_local.size(), MSG_NOSIGNAL);
    if (n > 0) {
      link.to_local.erase(0, n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      break;
    } else {
      return false;  // gRPC closed its end
    }
  }
  if (link.remote_eof && link.to_local.empty() && !link.local_shut) {
    shutdown(link.fd, SHUT_WR);
    link.local_shut = true;
  }

  // Local -> remote, never more than the peer's window allows.
  if (link.to_remote.empty() && !link.local_eof) {
    const ssize_t n = recv(link.fd, buffer, sizeof(buffer), 0);
    if (n > 0) {
      link.to_remote.assign(buffer, n);
    } else if (n == 0) {
      link.local_eof = true;
    } else if (errno != EAGAIN && errno != EINTR) {
      return false;
    }
  }
  if (!link.to_remote.empty()) {
    const size_t window = ssh_channel_window_size(link.channel);
    const size_t n = std::min(window, link.to_remote.size());
    if (n > 0) {
      const int written = ssh_channel_write(link.channel, link.to_remote.data(), n);
      if (written == SSH_ERROR) return false;
      if (written > 0) link.to_remote.erase(0, written);
    }
  }
  if (link.local_eof && link.to_remote.empty() && !link.eof_sent) {
    ssh_channel_send_eof(link.channel);
    link.eof_sent = true;
  }
  if (!ssh_channel_is_open(link.channel) && link.remote_eof && link.to_local.empty()) return false;
  return !(link.eof_sent && link.remote_eof && link.to_local.empty());
}

void SshTunnel::CloseAllLinks() { links_.clear(); }

void SshTunnel::Pump() {
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    const bool have_session = session_ && session_->Connected();
    fds.push_back(
        {have_session ? session_->fd() : -1,
         static_cast<short>(have_session ? (POLLIN | (session_->WantsWrite() ? POLLOUT : 0)) : 0),
         0});
    int timeout_ms = links_.empty() ? -1 : 1000;
    for (const auto& link : links_) {
      short events = 0;
      if (link->to_remote.empty() && !link->local_eof) events |= POLLIN;
      if (!link->to_local.empty()) events |= POLLOUT;
      fds.push_back({link->fd, events, 0});
      // Window adjustments arrive on the SSH socket and wake us; this is a
      // backstop in case one was consumed while serving another link.
      if (!link->to_remote.empty()) timeout_ms = std::min(timeout_ms, 10);
      // libssh may have buffered data for this channel while serving another
      // one, without the socket firing again: serve it right away.
      if (!link->remote_eof && link->to_local.size() < kChunk &&
          ssh_channel_poll(link->channel, 0) != 0) {
        timeout_ms = 0;
      }
    }
    if (poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
      std::cerr << "mlcube-remote: ssh tunnel: poll: " << strerror(errno) << std::endl;
      return;
    }
    if (fds[0].revents != 0) return;  // stop requested
    if (have_session && !session_->ProcessIo().ok()) {
      CloseAllLinks();  // gRPC sees the connections close and reconnects
    }
    if (fds[1].revents != 0) Accept();
    links_.erase(std::remove_if(links_.begin(), links_.end(),
                                [this](const std::unique_ptr<Link>& l) { return !Service(*l); }),
                 links_.end());
  }
}

}  // namespace mlcube
