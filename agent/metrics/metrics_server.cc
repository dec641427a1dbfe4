#include "agent/metrics/metrics_server.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mlcube {
namespace {

constexpr size_t kMaxRequestBytes = 8192;

// "HOST:PORT" or "[V6]:PORT" -> host and port.
bool SplitAddress(const std::string& address, std::string* host, std::string* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = address.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  *port = address.substr(colon + 1);
  int number = 0;
  return absl::SimpleAtoi(*port, &number) && number >= 0 && number <= 65535;
}

absl::StatusOr<UniqueFd> Listen(const std::string& address, int* port) {
  std::string host, service;
  if (!SplitAddress(address, &host, &service)) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics.listen: expected HOST:PORT, got '", address, "'"));
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics.listen: ", address, ": ", gai_strerror(rc)));
  }
  UniqueFd fd(socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int one = 1;
  const bool bound = fd && setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
                     bind(fd.get(), found->ai_addr, found->ai_addrlen) == 0 &&
                     listen(fd.get(), 16) == 0;
  freeaddrinfo(found);
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  if (!bound || getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &length) != 0) {
    return absl::UnavailableError(
        absl::StrCat("metrics.listen: cannot listen on ", address, ": ", strerror(errno)));
  }
  *port = ntohs(local.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&local)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&local)->sin_port);
  return fd;
}

void SendAll(int fd, const std::string& data) {
  for (size_t sent = 0; sent < data.size();) {
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;  // the client went away or stalled past its 5 s
    sent += static_cast<size_t>(n);
  }
}

std::string Response(const std::string& status, const std::string& type, const std::string& body) {
  return absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ", type,
                      "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n", body);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& address,
                                                                    Collect collect) {
  int port = 0;
  absl::StatusOr<UniqueFd> listener = Listen(address, &port);
  if (!listener.ok()) return listener.status();
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return absl::UnavailableError("metrics: pipe2 failed");
  std::unique_ptr<MetricsServer> server(
      new MetricsServer(std::move(*listener), UniqueFd(pipe_fds[0]), UniqueFd(pipe_fds[1]), port,
                        std::move(collect)));
  try {
    server->thread_ = std::thread([raw = server.get()] { raw->Loop(); });
  } catch (const std::system_error& e) {
    return absl::UnavailableError(absl::StrCat("metrics: no thread to serve on: ", e.what()));
  }
  return server;
}

MetricsServer::MetricsServer(UniqueFd listener, UniqueFd wake_read, UniqueFd wake_write, int port,
                             Collect collect)
    : listener_(std::move(listener)),
      wake_read_(std::move(wake_read)),
      wake_write_(std::move(wake_write)),
      port_(port),
      collect_(std::move(collect)) {}

MetricsServer::~MetricsServer() {
  if (thread_.joinable()) {
    const char byte = 0;
    if (write(wake_write_.get(), &byte, 1) == 1)
      thread_.join();
    else
      thread_.detach();  // cannot wake it: the process is ending anyway
  }
}

void MetricsServer::Loop() {
  while (true) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    UniqueFd client(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) continue;
    timeval timeout{5, 0};
    setsockopt(client.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(client.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    Serve(client.get());
  }
}

void MetricsServer::Serve(int fd) const {
  std::string request;
  char buffer[1024];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequestBytes) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    request.append(buffer, static_cast<size_t>(n));
  }
  const std::string line = request.substr(0, request.find("\r\n"));
  const std::string text = "text/plain; charset=utf-8";
  if (!absl::StartsWith(line, "GET ")) {
    SendAll(fd, Response("405 Method Not Allowed", text, "only GET /metrics\n"));
  } else if (absl::StartsWith(line, "GET /metrics ") || absl::StartsWith(line, "GET /metrics?")) {
    SendAll(fd, Response("200 OK", "text/plain; version=0.0.4; charset=utf-8", collect_()));
  } else {
    SendAll(fd, Response("404 Not Found", text, "only GET /metrics\n"));
  }
}

}  // namespace mlcube
