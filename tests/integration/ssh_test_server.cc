#include "tests/integration/ssh_test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace mlcube_test {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A namespace's address is reachable from here through its veth pair.
bool CanConnect(const std::string& address, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, address.c_str(), &sa.sin_addr);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  close(fd);
  return ok;
}

}  // namespace

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  socklen_t len = sizeof(sa);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  close(fd);
  return ntohs(sa.sin_port);
}

SshTestServer::SshTestServer(std::string dir, std::string user, std::string authorized_key_file)
    : dir_(std::move(dir)),
      user_(std::move(user)),
      authorized_key_file_(std::move(authorized_key_file)) {}

SshTestServer::~SshTestServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
}

bool SshTestServer::Start(const std::string& address, const std::string& netns) {
  address_ = address;
  port_ = FreeLoopbackPort();
  std::vector<std::string> args;
  if (!netns.empty()) args = {"/usr/bin/ip", "netns", "exec", netns};
  for (const std::string& a :
       {std::string("/bin/bash"), std::string(MLCUBE_SOURCE_DIR) + "/tools/start-test-sshd.sh",
        dir_, std::to_string(port_), user_, authorized_key_file_, address_}) {
    args.push_back(a);
  }
  const std::string log = dir_ + ".sshd.log";
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  for (int i = 0; i < 200; ++i) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      ADD_FAILURE() << "sshd exited at start-up (install it with `apt-get install -y "
                       "openssh-server`):\n"
                    << Log();
      return false;
    }
    if (CanConnect(address_, port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "sshd did not listen on " << address_ << ":" << port_ << " within 10 s:\n"
                << Log();
  return false;
}

std::string SshTestServer::KnownHostsLine() const {
  std::string key = ReadFile(dir_ + "/host_ed25519_key.pub");
  // "ssh-ed25519 AAAA... comment" -> keep type and key.
  std::istringstream fields(key);
  std::string type, blob;
  fields >> type >> blob;
  return "[" + address_ + "]:" + std::to_string(port_) + " " + type + " " + blob + "\n";
}

std::string SshTestServer::Log() const { return ReadFile(dir_ + ".sshd.log"); }

std::vector<pid_t> SshTestServer::SessionPids() const {
  std::vector<pid_t> pids;
  std::istringstream log(Log());
  const std::string marker = "User child is on pid ";
  for (std::string line; std::getline(log, line);) {
    const size_t at = line.find(marker);
    if (at != std::string::npos) pids.push_back(std::stoi(line.substr(at + marker.size())));
  }
  return pids;
}

}  // namespace mlcube_test
