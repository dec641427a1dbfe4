#include "agent/engine/engine_connection.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/safe_path.h"
#include "common/yaml_reader.h"

namespace mlcube {

namespace {

constexpr size_t kMaxHeadBytes = 64 * 1024;

}  // namespace

absl::StatusOr<EngineConnection> EngineConnection::Open(const std::string& socket_path,
                                                        absl::Duration io_timeout) {
  sockaddr_un address{};
  if (socket_path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("engine socket path too long: ", socket_path));
  }
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  EngineConnection connection(std::move(fd));
  connection.SetTimeout(io_timeout);
  address.sun_family = AF_UNIX;
  memcpy(address.sun_path, socket_path.data(), socket_path.size());
  if (connect(connection.fd(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", socket_path, ": ", strerror(errno)));
  }
  return connection;
}

void EngineConnection::SetTimeout(absl::Duration io_timeout) {
  // A zero timeval is "no timeout" to the kernel.
  const timeval tv =
      io_timeout == absl::InfiniteDuration() ? timeval{0, 0} : absl::ToTimeval(io_timeout);
  setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

absl::Status EngineConnection::SendAll(absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::UnavailableError(absl::StrCat("engine socket: ", strerror(errno)));
    bytes.remove_prefix(n);
  }
  return absl::OkStatus();
}

ssize_t EngineConnection::ReadSome(char* buffer, size_t size) {
  ssize_t n;
  do {
    n = read(fd_.get(), buffer, size);
  } while (n < 0 && errno == EINTR);
  return n;
}

absl::StatusOr<EngineResponseHead> EngineConnection::ReadHead() {
  std::string received;
  char buffer[4096];
  size_t end;
  while ((end = received.find("\r\n\r\n")) == std::string::npos) {
    if (received.size() > kMaxHeadBytes) {
      return absl::DataLossError("the engine's response head is too long");
    }
    const ssize_t n = ReadSome(buffer, sizeof(buffer));
    if (n <= 0) {
      return absl::UnavailableError(absl::StrCat("the engine closed the connection",
                                                 n < 0 ? absl::StrCat(": ", strerror(errno)) : ""));
    }
    received.append(buffer, n);
  }
  // "HTTP/1.1 200 OK"
  const size_t line_end = received.find("\r\n");
  EngineResponseHead head;
  if (received.compare(0, 5, "HTTP/") != 0 || line_end < 12 ||
      !absl::SimpleAtoi(absl::string_view(received).substr(9, 3), &head.status)) {
    return absl::DataLossError(
        absl::StrCat("not an HTTP response: ", PrintableExcerpt(received.substr(0, line_end), 80)));
  }
  head.headers = received.substr(line_end + 2, end - line_end - 2);
  head.body_start = received.substr(end + 4);
  return head;
}

absl::StatusOr<EngineResponseHead> EngineConnection::Exchange(absl::string_view method,
                                                              absl::string_view path) {
  absl::Status sent = SendAll(
      absl::StrCat(method, " ", path, " HTTP/1.0\r\nHost: engine\r\nContent-Length: 0\r\n\r\n"));
  if (!sent.ok()) return sent;
  return ReadHead();
}

absl::StatusOr<EngineResponseHead> EngineConnection::Upgrade(absl::string_view path) {
  absl::Status sent = SendAll(absl::StrCat("POST ", path,
                                           " HTTP/1.1\r\nHost: engine\r\nContent-Length: 0\r\n"
                                           "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"));
  if (!sent.ok()) return sent;
  return ReadHead();
}

absl::StatusOr<std::string> EngineConnection::ReadRest(const EngineResponseHead& head,
                                                       size_t max_bytes) {
  std::string body = head.body_start;
  char buffer[4096];
  while (body.size() <= max_bytes) {
    const ssize_t n = ReadSome(buffer, sizeof(buffer));
    if (n == 0) return body;
    if (n < 0) return absl::UnavailableError(absl::StrCat("engine socket: ", strerror(errno)));
    body.append(buffer, n);
  }
  return absl::DataLossError(absl::StrCat("the engine's response is over ", max_bytes, " bytes"));
}

std::string EngineErrorMessage(absl::string_view body) {
  auto parsed = ParseYaml(std::string(body), "engine response");
  if (parsed.ok()) {
    YAML::Node message = YamlChild(*parsed, "message");
    if (message.IsScalar()) return PrintableExcerpt(message.Scalar(), 1000);
  }
  return PrintableExcerpt(body, 300);
}

}  // namespace mlcube
