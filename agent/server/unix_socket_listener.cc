#include "agent/server/unix_socket_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <grpcpp/server_posix.h>
#include <malloc.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <system_error>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/unique_fd.h"

namespace mlcube {
namespace {

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", strerror(errno)));
}

bool SomeoneListens(const sockaddr_un& addr) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool live = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return live;
}

// A connection ended this many times since the last sweep is a wave worth
// giving memory back after.
constexpr int kTrimAfterEnded = 32;

absl::StatusOr<uid_t> PeerUid(int fd) {
  struct ucred cred {};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return Errno("SO_PEERCRED");
  return cred.uid;
}

}  // namespace

UnixSocketListener::UnixSocketListener(std::string path, mode_t mode, gid_t group,
                                       ConnectionLimiter* limiter)
    : path_(std::move(path)), mode_(mode), group_(group), limiter_(limiter) {}

UnixSocketListener::~UnixSocketListener() { Stop(); }

absl::Status UnixSocketListener::Bind() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("unix socket path too long: ", path_));
  }
  memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  struct stat st {};
  if (lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path_, " exists and is not a socket; not replacing it"));
    }
    if (SomeoneListens(addr)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path_, ": another process is listening there (is an agent running?)"));
    }
    unlink(path_.c_str());
  }
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) return Errno("socket");
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Errno(absl::StrCat("bind ", path_));
  }
  if (group_ != static_cast<gid_t>(-1) &&
      chown(path_.c_str(), static_cast<uid_t>(-1), group_) != 0) {
    return Errno(absl::StrCat("chown ", path_, " to group ", group_));
  }
  chmod(path_.c_str(), mode_);
  if (listen(listen_fd_, 128) != 0) return Errno(absl::StrCat("listen ", path_));
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Errno("eventfd");
  return absl::OkStatus();
}

absl::Status UnixSocketListener::Start(grpc::Server* server) {
  server_ = server;
  try {
    thread_ = std::thread([this] { AcceptLoop(); });
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot start the accept thread of ", path_, ": ", e.what()));
  }
  return absl::OkStatus();
}

void UnixSocketListener::AcceptLoop() {
  for (;;) {
    std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    refused_.AppendPollFds(fds);
    // While connections are remembered, wake every second to forget the
    // ended ones (and give memory back after a wave of them).
    const int timeout_ms = limiter_->total() > 0 || trim_pending_ || !refused_.empty() ? 1000 : -1;
    const int ready = poll(fds.data(), fds.size(), timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    refused_.Service(fds.data() + 2, fds.size() - 2);
    if (fds[0].revents & POLLIN) AcceptOne();
    // Once a second, busy or not.
    const auto now = std::chrono::steady_clock::now();
    if (now - last_housekeeping_ >= std::chrono::seconds(1)) {
      last_housekeeping_ = now;
      Housekeep();
    }
  }
}

void UnixSocketListener::AcceptOne() {
  UniqueFd fd(accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!fd) {
    // Out of descriptors (EMFILE) keeps the socket readable: do not spin.
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      limiter_->Sweep();
      usleep(50 * 1000);
    }
    return;
  }
  absl::StatusOr<uid_t> uid = PeerUid(fd.get());
  absl::Status admitted = uid.ok() ? limiter_->Admit(*uid, fd.get()) : uid.status();
  if (!admitted.ok()) {
    refused_.Refuse(std::move(fd), admitted);
    return;
  }
  // gRPC owns the fd from here on and closes it with the connection.
  grpc::AddInsecureChannelFromFd(server_, fd.Release());
}

void UnixSocketListener::Housekeep() {
  const int ended = limiter_->Sweep();
  // gRPC frees a connection's buffers a little after closing its fd: trim
  // once more on the sweep after a wave.
  if (ended >= kTrimAfterEnded || trim_pending_) malloc_trim(0);
  trim_pending_ = ended >= kTrimAfterEnded;
}

void UnixSocketListener::Stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    // Discarded on purpose: a full eventfd has woken the thread already.
    (void)!write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
    unlink(path_.c_str());
  }
  if (wake_fd_ >= 0) {
    close(wake_fd_);
    wake_fd_ = -1;
  }
}

}  // namespace mlcube
