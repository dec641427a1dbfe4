// Opens many idle connections to a unix socket and holds them, for the
// connection-limit tests:
//   connection_flooder SOCKET COUNT
// Connecting stops when the agent accepts none for 3 s (it is out of
// descriptors), so the report also says how many connections were made.
// Each connection sends an HTTP/2 client preface, makes no call, and waits
// for the agent: the gRPC server's SETTINGS (never empty) means accepted; an
// empty SETTINGS (the agent's refusal, see RefusedConnections), a GOAWAY or
// a close means refused. Prints "accepted A
// refused R unanswered U connected C" and the text of the first GOAWAY (if
// any) on a second line, then holds every connection until stdin reaches EOF.

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace {

constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";

mlcube::UniqueFd Connect(const std::string& path) {
  mlcube::UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  // A unix connect() waits this long while the listen backlog is full.
  const timeval timeout = {3, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (!fd || connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return mlcube::UniqueFd();
  }
  (void)!write(fd.get(), kPreface, sizeof(kPreface) - 1);
  return fd;
}

// True when `bytes` begin with an empty SETTINGS frame or hold a GOAWAY
// (whose debug text goes to `text`).
bool Refusal(const std::string& bytes, std::string* text) {
  size_t at = 0;
  while (at + 9 <= bytes.size()) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
    const size_t length = (size_t{p[0]} << 16) | (size_t{p[1]} << 8) | p[2];
    if (at == 0 && p[3] == 0x4 && p[4] == 0 && length == 0) return true;
    if (p[3] == 0x7) {
      if (at + 9 + length <= bytes.size() && length >= 8) {
        *text = bytes.substr(at + 9 + 8, length - 8);
      }
      return true;
    }
    at += 9 + length;
  }
  return false;
}

// 1: refused, 0: accepted, -1: nothing to read yet.
int Classify(int fd, std::string* why) {
  std::string bytes;
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      bytes.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return 1;  // closed
    break;
  }
  if (bytes.empty()) return -1;
  return Refusal(bytes, why) ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: connection_flooder SOCKET COUNT\n");
    return 2;
  }
  struct rlimit limit {};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  const int count = atoi(argv[2]);
  std::vector<mlcube::UniqueFd> fds;
  for (int i = 0; i < count; ++i) {
    mlcube::UniqueFd fd = Connect(argv[1]);
    if (!fd) {
      fprintf(stderr, "connect %d: %s\n", i, strerror(errno));
      break;
    }
    fds.push_back(std::move(fd));
  }
  int accepted = 0, refused = 0;
  std::string why;
  std::vector<int> pending;
  for (const auto& fd : fds) pending.push_back(fd.get());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!pending.empty() && std::chrono::steady_clock::now() < deadline) {
    std::vector<pollfd> polls;
    for (int fd : pending) polls.push_back({fd, POLLIN, 0});
    poll(polls.data(), polls.size(), 200);
    std::vector<int> still;
    for (const pollfd& p : polls) {
      std::string text;
      const int verdict = p.revents ? Classify(p.fd, &text) : -1;
      if (verdict < 0) still.push_back(p.fd);
      if (verdict == 0) ++accepted;
      if (verdict == 1) {
        ++refused;
        if (why.empty()) why = text;
      }
    }
    pending.swap(still);
  }
  printf("accepted %d refused %d unanswered %zu connected %zu\n%s\n", accepted, refused,
         pending.size(), fds.size(), why.c_str());
  fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {
  }
  return 0;
}
