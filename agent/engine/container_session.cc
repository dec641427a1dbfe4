#include "agent/engine/container_session.h"

#include <errno.h>
#include <poll.h>

#include <cstring>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/safe_path.h"
#include "common/yaml_reader.h"

namespace mlcube {

namespace {

// Requests that answer at once; the attach and the wait answer when the
// container ends, and are not bounded.
constexpr absl::Duration kCallTimeout = absl::Seconds(60);
constexpr size_t kMaxInspectBytes = 4 << 20;

// A container id or name as the engine makes them: the only thing put in a
// request path here, so it needs no escaping.
absl::Status CheckContainerReference(absl::string_view name) {
  bool valid = !name.empty() && name.size() <= 128;
  for (char c : name) {
    valid &= absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  }
  if (valid) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("not a container id: ", PrintableExcerpt(name, 80)));
}

// UNAVAILABLE naming `what` and the engine's message, for an answer that
// refused a request whose body would otherwise have been a stream.
absl::Status Refused(absl::string_view what, EngineConnection& connection,
                     const EngineResponseHead& head) {
  auto body = connection.ReadRest(head, 64 * 1024);
  return absl::UnavailableError(
      absl::StrCat(what, ": ", body.ok() ? EngineErrorMessage(*body) : "no answer"));
}

// Config.Tty of a container's inspect JSON: a container with a TTY sends
// its output raw, not multiplexed.
absl::StatusOr<bool> HasTty(const std::string& inspect_json) {
  auto parsed = ParseYaml(inspect_json, "container inspect");
  if (!parsed.ok()) return parsed.status();
  YAML::Node tty = YamlChild(YamlChild(*parsed, "Config"), "Tty");
  return tty.IsScalar() && tty.Scalar() == "true";
}

// Podman's compatible API names its own version in every answer.
bool IsPodmanHead(const EngineResponseHead& head) {
  return absl::StrContains(absl::AsciiStrToLower(head.headers), "libpod-api-version:");
}

// One bodyless request on a connection of its own; its status and body.
absl::StatusOr<std::pair<int, std::string>> Call(const std::string& socket_path,
                                                 absl::string_view method, absl::string_view path) {
  auto connection = EngineConnection::Open(socket_path, kCallTimeout);
  if (!connection.ok()) return connection.status();
  auto head = connection->Exchange(method, path);
  if (!head.ok()) return head.status();
  auto body = connection->ReadRest(*head, 64 * 1024);
  if (!body.ok()) return body.status();
  return std::make_pair(head->status, std::move(*body));
}

}  // namespace

absl::StatusOr<bool> EngineFollowsCreatedContainers(const std::string& socket_path) {
  auto connection = EngineConnection::Open(socket_path, absl::Seconds(5));
  if (!connection.ok()) return connection.status();
  auto head = connection->Exchange("GET", "/_ping");
  if (!head.ok()) return head.status();
  if (head->status != 200) {
    return absl::UnavailableError(
        absl::StrCat("the engine at ", socket_path, " answers /_ping with ", head->status));
  }
  return !IsPodmanHead(*head);
}

absl::Status RemoveContainer(const std::string& socket_path, const std::string& container) {
  if (absl::Status valid = CheckContainerReference(container); !valid.ok()) return valid;
  auto answer = Call(socket_path, "DELETE", absl::StrCat("/containers/", container, "?force=1"));
  if (!answer.ok()) return answer.status();
  if (answer->first == 204 || answer->first == 404) return absl::OkStatus();
  return absl::FailedPreconditionError(EngineErrorMessage(answer->second));
}

int StartFailureExitCode(absl::string_view message) {
  if (absl::StrContains(message, "executable file not found") ||
      absl::StrContains(message, "no such file or directory")) {
    return 127;
  }
  if (absl::StrContains(message, "permission denied") ||
      absl::StrContains(message, "is a directory")) {
    return 126;
  }
  return 125;
}

absl::StatusOr<ContainerSession> ContainerSession::Attach(const std::string& socket_path,
                                                          const std::string& container) {
  if (absl::Status valid = CheckContainerReference(container); !valid.ok()) return valid;
  auto inspect = EngineConnection::Open(socket_path, kCallTimeout);
  if (!inspect.ok()) return inspect.status();
  auto inspect_head = inspect->Exchange("GET", absl::StrCat("/containers/", container, "/json"));
  if (!inspect_head.ok()) return inspect_head.status();
  auto inspect_body = inspect->ReadRest(*inspect_head, kMaxInspectBytes);
  if (!inspect_body.ok()) return inspect_body.status();
  if (inspect_head->status != 200) {
    return absl::NotFoundError(EngineErrorMessage(*inspect_body));
  }
  if (IsPodmanHead(*inspect_head)) {
    return absl::UnimplementedError(absl::StrCat(
        "the engine at ", socket_path,
        " is Podman, whose API starts a created container on attach (before a wait can be "
        "registered)"));
  }
  auto tty = HasTty(*inspect_body);
  if (!tty.ok()) return tty.status();

  auto attach = EngineConnection::Open(socket_path, kCallTimeout);
  if (!attach.ok()) return attach.status();
  auto attach_head = attach->Upgrade(
      absl::StrCat("/containers/", container, "/attach?stream=1&stdout=1&stderr=1"));
  if (!attach_head.ok()) return attach_head.status();
  attach->SetTimeout(absl::InfiniteDuration());  // output may pause for hours
  if (attach_head->status != 101 && attach_head->status != 200) {
    return Refused("attach", *attach, *attach_head);
  }
  // The engine answers with its head once the wait is registered (its body
  // comes at the exit, however late).
  auto wait = EngineConnection::Open(socket_path, kCallTimeout);
  if (!wait.ok()) return wait.status();
  auto wait_head =
      wait->Exchange("POST", absl::StrCat("/containers/", container, "/wait?condition=next-exit"));
  if (!wait_head.ok()) return wait_head.status();
  wait->SetTimeout(absl::InfiniteDuration());
  if (wait_head->status != 200) return Refused("wait", *wait, *wait_head);
  return ContainerSession(socket_path, container, *tty, std::move(*attach), std::move(*attach_head),
                          std::move(*wait), std::move(*wait_head));
}

absl::Status ContainerSession::Start() {
  auto answer = Call(socket_path_, "POST", absl::StrCat("/containers/", container_, "/start"));
  if (!answer.ok()) return answer.status();
  if (answer->first == 204 || answer->first == 304) return absl::OkStatus();
  return absl::FailedPreconditionError(EngineErrorMessage(answer->second));
}

absl::Status ContainerSession::Signal(absl::string_view signal) {
  auto answer =
      Call(socket_path_, "POST", absl::StrCat("/containers/", container_, "/kill?signal=", signal));
  if (!answer.ok()) return answer.status();
  if (answer->first == 204) return absl::OkStatus();
  return absl::FailedPreconditionError(EngineErrorMessage(answer->second));
}

absl::Status ContainerSession::Relay(const MultiplexedStreamDecoder::Sink& sink, int stop_fd,
                                     const std::function<void()>& on_stop) {
  MultiplexedStreamDecoder decoder(sink);
  auto deliver = [&](absl::string_view bytes) {
    if (tty_) {
      sink(EngineStream::kStdout, bytes);
      return absl::OkStatus();
    }
    return decoder.Feed(bytes);
  };
  if (absl::Status s = deliver(attach_head_.body_start); !s.ok()) return s;
  // Not zero-filled: a page costs memory only once output reaches it.
  constexpr size_t kBufferBytes = 256 * 1024;
  std::unique_ptr<char[]> buffer(new char[kBufferBytes]);
  pollfd fds[2] = {{attach_.fd(), POLLIN, 0}, {stop_fd, POLLIN, 0}};
  for (;;) {
    if (poll(fds, stop_fd >= 0 ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("poll: ", strerror(errno)));
    }
    if (stop_fd >= 0 && (fds[1].revents & POLLIN)) on_stop();
    if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    const ssize_t n = attach_.ReadSome(buffer.get(), kBufferBytes);
    if (n == 0) break;
    if (n < 0) return absl::UnavailableError(absl::StrCat("attach: ", strerror(errno)));
    if (absl::Status s = deliver(absl::string_view(buffer.get(), n)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<int> ContainerSession::ExitCode() {
  auto body = wait_.ReadRest(wait_head_, 64 * 1024);
  if (!body.ok()) return body.status();
  auto parsed = ParseYaml(*body, "container wait");
  if (!parsed.ok()) return parsed.status();
  YAML::Node code = YamlChild(*parsed, "StatusCode");
  int value = 0;
  if (!code.IsScalar() || !absl::SimpleAtoi(code.Scalar(), &value)) {
    return absl::DataLossError(
        absl::StrCat("the engine's wait answer has no StatusCode: ", PrintableExcerpt(*body, 200)));
  }
  return value;
}

}  // namespace mlcube
