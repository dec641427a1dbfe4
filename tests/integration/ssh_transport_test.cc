// The SSH transport against a real OpenSSH sshd on loopback and a real agent
// running as the unprivileged test user: the controller reaches the agent's
// unix socket through a direct-streamlocal channel, the agent sees the SSH
// user's uid, and every way SSH must refuse (wrong key, unknown host key,
// changed host key) does refuse, with a message that says what to do.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "controller/hosts/hosts_file.h"
#include "controller/install/agent_connector.h"
#include "controller/transport/agent_connection.h"
#include "controller/transport/ssh_tunnel.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/ssh_test_network_namespace.h"
#include "tests/integration/ssh_test_server.h"
#include "tests/support/command_runner.h"
#include "tests/support/hello_cube.h"
#include "tests/support/temp_dir.h"

namespace mlcube_test {
namespace {

// The hosts file at `path`, its ssh: hosts using the SSH setup in `ssh_dir`
// (as $MLCUBE_REMOTE_SSH_DIR makes the CLI do).
mlcube::HostsLookup Lookup(const std::string& path, const std::string& ssh_dir) {
  mlcube::HostsLookup lookup;
  lookup.explicit_path = path;
  lookup.ssh_dir = ssh_dir;
  return lookup;
}

using ::mlcube::testing::CommandResult;
using ::mlcube::testing::RunCommand;
using ::mlcube::testing::TempDir;
using ::testing::HasSubstr;

constexpr char kUser[] = "mlcube";

// A TCP proxy on loopback in front of `upstream_port` that holds every
// connection it accepts, forwarding nothing, until `parties` of them are open
// at the same time; then it forwards them all. A client that opens its
// connections one after another never gets there: each is let through after
// `hold` instead, and Met() stays false.
class BarrierProxy {
 public:
  BarrierProxy(int upstream_port, int parties, std::chrono::seconds hold)
      : upstream_port_(upstream_port), parties_(parties), hold_(hold) {}
  ~BarrierProxy() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      for (int fd : clients_) shutdown(fd, SHUT_RDWR);
    }
    released_.notify_all();
    if (listener_ >= 0) shutdown(listener_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    for (std::thread& t : connections_) t.join();
    if (listener_ >= 0) close(listener_);
  }

  // Listens on a free loopback port.
  bool Start() {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof(address);
    if (bind(listener_, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
        listen(listener_, 16) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      return false;
    }
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] {
      for (int fd; (fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) {
        std::lock_guard<std::mutex> lock(mutex_);
        clients_.push_back(fd);
        connections_.emplace_back([this, fd] { Serve(fd); });
      }
    });
    return true;
  }

  int port() const { return port_; }
  // Whether `parties` connections were open at once.
  bool Met() {
    std::lock_guard<std::mutex> lock(mutex_);
    return met_;
  }

 private:
  void Serve(int client) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (++open_ >= parties_) met_ = true;
      released_.notify_all();
      released_.wait_for(lock, hold_, [this] { return met_ || stopping_; });
    }
    int upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(upstream_port_);
    if (connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
      Pump(client, upstream);
    }
    close(upstream);
    std::lock_guard<std::mutex> lock(mutex_);
    --open_;
  }

  // Copies both ways until either side closes.
  static void Pump(int a, int b) {
    pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    char buffer[65536];
    while (poll(fds, 2, -1) > 0) {
      for (int i = 0; i < 2; ++i) {
        if (fds[i].revents == 0) continue;
        const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
        if (n <= 0) return;
        for (ssize_t off = 0; off < n;) {
          const ssize_t w = write(fds[1 - i].fd, buffer + off, n - off);
          if (w <= 0) return;
          off += w;
        }
      }
    }
  }

  const int upstream_port_;
  const int parties_;
  const std::chrono::seconds hold_;
  int listener_ = -1;
  int port_ = 0;
  std::mutex mutex_;
  std::condition_variable released_;
  int open_ = 0;
  bool met_ = false;
  bool stopping_ = false;
  std::vector<int> clients_;
  std::thread acceptor_;
  std::vector<std::thread> connections_;
};

// One sshd, one agent (as `mlcube`) and a client-side ssh dir per test.
class SshTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // sshd reads authorized_keys as the user: the tree must be traversable.
    chmod(root_.path().c_str(), 0755);
    client_dir_ = root_.path() + "/client";
    mkdir(client_dir_.c_str(), 0700);
    ASSERT_EQ(Shell("ssh-keygen -q -t ed25519 -N '' -C good -f " + client_dir_ + "/good_key"), 0);
    ASSERT_EQ(Shell("ssh-keygen -q -t ed25519 -N '' -C wrong -f " + client_dir_ + "/wrong_key"), 0);
    sshd_ = std::make_unique<SshTestServer>(root_.path() + "/sshd", kUser,
                                            client_dir_ + "/good_key.pub");
    ASSERT_TRUE(sshd_->Start());
    AgentProcessOptions options;
    options.user = kUser;
    agent_ = std::make_unique<AgentProcess>(options);
    ASSERT_TRUE(agent_->Start());
    TrustServerKey();
  }

  void TrustServerKey() { root_.WriteFile("client/known_hosts", sshd_->KnownHostsLine()); }

  std::string HostsFile(const std::string& ssh_block, const std::string& agent_socket = "") {
    const std::string path = root_.path() + "/hosts.yaml";
    root_.WriteFile("hosts.yaml",
                    "default_host: gpu\nhosts:\n  gpu:\n    ssh: " + ssh_block +
                        "\n    agent_socket: " +
                        (agent_socket.empty() ? agent_->socket_path() : agent_socket) + "\n");
    return path;
  }

  std::string KeyBlock(const std::string& key) {
    return "{host: 127.0.0.1, port: " + std::to_string(sshd_->port()) + ", user: " + kUser +
           ", identity_file: " + client_dir_ + "/" + key + "}";
  }

  CommandResult Hosts(const std::string& hosts_file, std::vector<std::string> env = {}) {
    env.push_back("MLCUBE_REMOTE_SSH_DIR=" + client_dir_);
    env.push_back("NO_COLOR=1");
    return RunCommand({MLCUBE_REMOTE_BINARY, "hosts", "--hosts=" + hosts_file}, env, 60);
  }

  TempDir root_;
  std::string client_dir_;
  std::unique_ptr<SshTestServer> sshd_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(SshTransportTest, HostsCommandReachesTheAgentThroughSsh) {
  CommandResult result = Hosts(HostsFile(KeyBlock("good_key")));
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err << sshd_->Log();
  EXPECT_THAT(result.out, ::testing::ContainsRegex("gpu\\* +up +" MLCUBE_REMOTE_VERSION));
}

// `hosts` probes every host at once, each over its own SSH session: the four
// hosts are reached through a proxy that lets no connection through until all
// four are open at the same time, which probes made one after another never
// are (each would wait out the proxy's 30 s hold, and Met() stays false).
TEST_F(SshTransportTest, SeveralSshHostsAreProbedInParallel) {
  constexpr int kHosts = 4;
  BarrierProxy proxy(sshd_->port(), kHosts, std::chrono::seconds(30));
  ASSERT_TRUE(proxy.Start());
  std::string known = sshd_->KnownHostsLine();
  const std::string sshd_port = "]:" + std::to_string(sshd_->port()) + " ";
  known.replace(known.find(sshd_port), sshd_port.size(), "]:" + std::to_string(proxy.port()) + " ");
  root_.WriteFile("client/known_hosts", known);
  std::string text = "default_host: gpu0\nhosts:\n";
  for (int i = 0; i < kHosts; ++i) {
    text += "  gpu" + std::to_string(i) +
            ":\n    ssh: {host: 127.0.0.1, port: " + std::to_string(proxy.port()) +
            ", user: " + kUser + ", identity_file: " + client_dir_ +
            "/good_key}\n    agent_socket: " + agent_->socket_path() + "\n";
  }
  root_.WriteFile("many.yaml", text);
  CommandResult result = Hosts(root_.path() + "/many.yaml");
  EXPECT_TRUE(proxy.Met()) << "the " << kHosts << " SSH connections were never open at once";
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  for (int i = 0; i < kHosts; ++i) {
    EXPECT_THAT(result.out, ::testing::ContainsRegex("gpu" + std::to_string(i) + "\\*? +up "));
  }
}

TEST_F(SshTransportTest, AgentSeesTheSshUsersUid) {
  auto hosts = mlcube::LoadHostsFile(Lookup(HostsFile(KeyBlock("good_key")), client_dir_));
  ASSERT_TRUE(hosts.ok()) << hosts.status();
  auto host = hosts->Find("gpu");
  ASSERT_TRUE(host.ok());
  auto connection = mlcube::ConnectToAgent(*host);
  ASSERT_TRUE(connection.ok()) << connection.status() << sshd_->Log();
  EXPECT_THAT((*connection)->Describe(), HasSubstr("ssh://mlcube@127.0.0.1:"));
  // Several calls: each gRPC connection is one channel; the session is shared.
  for (int i = 0; i < 3; ++i) {
    auto context = mlcube::AgentConnection::Context(std::chrono::seconds(10));
    mlcube_remote::v1::AgentInfo info;
    grpc::Status status =
        (*connection)->agent().GetInfo(context.get(), mlcube_remote::v1::GetInfoRequest(), &info);
    ASSERT_TRUE(status.ok()) << status.error_message();
    // The test runs as root; through SSH the agent sees the SSH user.
    EXPECT_EQ(info.caller_identity(), "uid-" + std::to_string(agent_->uid()));
  }
}

// An agent that listens on a loopback port of the SSH host (not on a unix
// socket) is reached through a direct-tcpip channel; it still sees the SSH
// user, from the kernel's socket table.
TEST_F(SshTransportTest, AgentOnALoopbackPortIsReachedThroughDirectTcpip) {
  AgentProcessOptions options;
  options.user = kUser;
  options.extra_args = {"--insecure", "--listen=127.0.0.1:0"};
  AgentProcess tcp_agent(options);
  ASSERT_TRUE(tcp_agent.Start());
  const std::string address = "127.0.0.1:" + std::to_string(tcp_agent.TcpPort());
  CommandResult result = Hosts(HostsFile(KeyBlock("good_key"), address));
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err << sshd_->Log();
  EXPECT_THAT(result.out, ::testing::ContainsRegex("gpu\\* +up +" MLCUBE_REMOTE_VERSION));

  auto host =
      mlcube::LoadHost(Lookup(HostsFile(KeyBlock("good_key"), address), client_dir_), "gpu");
  ASSERT_TRUE(host.ok()) << host.status();
  auto connection = mlcube::ConnectToAgent(*host);
  ASSERT_TRUE(connection.ok()) << connection.status();
  auto context = mlcube::AgentConnection::Context(std::chrono::seconds(10));
  mlcube_remote::v1::AgentInfo info;
  grpc::Status status =
      (*connection)->agent().GetInfo(context.get(), mlcube_remote::v1::GetInfoRequest(), &info);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(info.caller_identity(), "uid-" + std::to_string(tcp_agent.uid()));
}

// The whole workflow through SSH: push the offline example cube, run its task
// in Docker on the "remote" agent, stream the output, pull the outputs back.
// The agent files the cube under the SSH user's uid, not the caller's.
TEST_F(SshTransportTest, SyncAndRunThroughSsh) {
  ASSERT_EQ(access(MLCUBE_SOURCE_DIR "/examples/hello/build/busybox", X_OK), 0)
      << "run tools/prepare-examples.sh first (copies busybox into examples/hello/build)";
  ASSERT_EQ(Shell("docker info >/dev/null"), 0) << "start Docker: tools/start-docker.sh";
  const std::string cube = root_.path() + "/hello";
  ASSERT_TRUE(::mlcube::testing::CopyHelloCube(cube));
  const std::string hosts = HostsFile(KeyBlock("good_key"));
  const std::vector<std::string> env = {"MLCUBE_REMOTE_SSH_DIR=" + client_dir_, "NO_COLOR=1"};

  CommandResult push = RunCommand(
      {MLCUBE_REMOTE_BINARY, "--hosts=" + hosts, "sync", "push", "--mlcube=" + cube}, env, 120);
  ASSERT_EQ(push.exit_code, 0) << push.out << push.err << agent_->Stderr();
  EXPECT_THAT(push.err + push.out, ::testing::ContainsRegex("push hello-[0-9a-f]+: .* sent"));
  std::string owners;
  ASSERT_EQ(Shell("ls " + agent_->state_dir() + "/cubes", &owners), 0);
  EXPECT_EQ(owners, "uid-" + std::to_string(agent_->uid()) + "\n");

  CommandResult run = RunCommand(
      {MLCUBE_REMOTE_BINARY, "--hosts=" + hosts, "run", "--mlcube=" + cube, "--task=greet"}, env,
      300);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err << agent_->Stderr();
  EXPECT_THAT(run.out + run.err, HasSubstr("Hello, Alice!"));
  std::string summary;
  ASSERT_EQ(Shell("cat " + cube + "/workspace/greetings/summary.txt", &summary), 0) << summary;
  EXPECT_FALSE(summary.empty());
}

// A host that is not this machine's loopback: sshd inside a network
// namespace, reached over a veth pair; the agent socket is on the shared
// filesystem, as the agent of a real host is on its own.
TEST_F(SshTransportTest, HostInANetworkNamespace) {
  SshTestNetworkNamespace netns;
  ASSERT_TRUE(netns.Create());
  SshTestServer remote_sshd(root_.path() + "/netns-sshd", kUser, client_dir_ + "/good_key.pub");
  ASSERT_TRUE(remote_sshd.Start(netns.inside_address(), netns.name()));
  root_.WriteFile("client/known_hosts", remote_sshd.KnownHostsLine());
  const std::string hosts = HostsFile(
      "{host: " + netns.inside_address() + ", port: " + std::to_string(remote_sshd.port()) +
      ", user: " + kUser + ", identity_file: " + client_dir_ + "/good_key}");
  CommandResult result = Hosts(hosts);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err << remote_sshd.Log();
  EXPECT_THAT(result.out, ::testing::ContainsRegex("gpu\\* +up "));
  // The loopback sshd's key is not this host's key.
  TrustServerKey();
  CommandResult unknown = Hosts(hosts);
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.out, HasSubstr("the host key of [" + netns.inside_address() + "]:"));
}

// A dropped SSH connection (laptop asleep, network changed) is made again
// when gRPC reconnects, without the caller doing anything.
TEST_F(SshTransportTest, TunnelReconnectsAfterTheSshConnectionDrops) {
  auto hosts = mlcube::LoadHostsFile(Lookup(HostsFile(KeyBlock("good_key")), client_dir_));
  ASSERT_TRUE(hosts.ok()) << hosts.status();
  auto connection = mlcube::ConnectToAgent(*hosts->Find("gpu"));
  ASSERT_TRUE(connection.ok()) << connection.status();
  auto get_info = [&](bool wait_for_ready) {
    auto context = mlcube::AgentConnection::Context(std::chrono::seconds(3));
    context->set_wait_for_ready(wait_for_ready);
    mlcube_remote::v1::AgentInfo info;
    return (*connection)->agent().GetInfo(context.get(), {}, &info);
  };
  ASSERT_TRUE(get_info(false).ok());
  const std::vector<pid_t> before = sshd_->SessionPids();
  ASSERT_FALSE(before.empty()) << sshd_->Log();
  for (pid_t pid : before) kill(pid, SIGKILL);

  bool recovered = false;
  for (int attempt = 0; attempt < 10 && !recovered; ++attempt) {
    recovered = get_info(true).ok();
  }
  EXPECT_TRUE(recovered) << sshd_->Log();
  EXPECT_GT(sshd_->SessionPids().size(), before.size());
}

TEST_F(SshTransportTest, SshAgentAndSshConfigAliasAreHonoured) {
  // ~/.ssh/config names the host; the key is only in ssh-agent.
  root_.WriteFile("client/config", "Host gpu-alias\n  HostName 127.0.0.1\n  Port " +
                                       std::to_string(sshd_->port()) + "\n  User " + kUser + "\n");
  const std::string agent_socket = root_.path() + "/ssh-agent.sock";
  pid_t agent_pid = fork();
  if (agent_pid == 0) {
    freopen("/dev/null", "w", stdout);
    execl("/usr/bin/ssh-agent", "ssh-agent", "-D", "-a", agent_socket.c_str(), nullptr);
    _exit(127);
  }
  for (int i = 0; i < 100 && access(agent_socket.c_str(), F_OK) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(Shell("SSH_AUTH_SOCK=" + agent_socket + " ssh-add -q " + client_dir_ + "/good_key"), 0);
  // Out of the ssh dir: only ssh-agent has it now.
  ASSERT_EQ(rename((client_dir_ + "/good_key").c_str(), (root_.path() + "/moved_key").c_str()), 0);
  const std::string hosts = HostsFile("{host: gpu-alias}");
  CommandResult with_agent = Hosts(hosts, {"SSH_AUTH_SOCK=" + agent_socket});
  kill(agent_pid, SIGTERM);
  waitpid(agent_pid, nullptr, 0);
  EXPECT_EQ(with_agent.exit_code, 0) << with_agent.out << with_agent.err << sshd_->Log();
  EXPECT_THAT(with_agent.out, HasSubstr(" up "));

  CommandResult without_agent = Hosts(hosts, {"SSH_AUTH_SOCK="});
  EXPECT_NE(without_agent.exit_code, 0);
  EXPECT_THAT(without_agent.out, HasSubstr("refused every key offered"));
}

// Debian's ssh_config has HashKnownHosts yes: entries `ssh` records look
// like "|1|salt|hash ssh-ed25519 ...". They are matched all the same.
TEST_F(SshTransportTest, HashedKnownHostsEntryIsAccepted) {
  ASSERT_EQ(Shell("ssh-keygen -q -H -f " + client_dir_ + "/known_hosts"), 0);
  std::string hashed;
  ASSERT_EQ(Shell("cat " + client_dir_ + "/known_hosts", &hashed), 0);
  ASSERT_THAT(hashed, ::testing::StartsWith("|1|"));
  CommandResult result = Hosts(HostsFile(KeyBlock("good_key")));
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_THAT(result.out, HasSubstr(" up "));
}

TEST_F(SshTransportTest, WrongKeyIsRefused) {
  CommandResult result = Hosts(HostsFile(KeyBlock("wrong_key")));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.out, HasSubstr("DOWN"));
  EXPECT_THAT(result.out, HasSubstr("refused every key offered"));
  EXPECT_THAT(result.out, HasSubstr("authorized_keys"));
}

TEST_F(SshTransportTest, UnknownHostKeyIsRefusedWithHowToAcceptIt) {
  root_.WriteFile("client/known_hosts", "");
  CommandResult result = Hosts(HostsFile(KeyBlock("good_key")));
  EXPECT_NE(result.exit_code, 0);
  const std::string port = std::to_string(sshd_->port());
  EXPECT_THAT(result.out, HasSubstr("the host key of [127.0.0.1]:" + port + " is not in"));
  EXPECT_THAT(result.out, HasSubstr("ssh-keyscan -p " + port + " 127.0.0.1 >> " + client_dir_ +
                                    "/known_hosts"));
  EXPECT_THAT(result.out, HasSubstr("SHA256:"));
  // Nothing was recorded behind the user's back.
  CommandResult again = Hosts(HostsFile(KeyBlock("good_key")));
  EXPECT_NE(again.exit_code, 0);

  // Without any known_hosts file at all: the same.
  unlink((client_dir_ + "/known_hosts").c_str());
  CommandResult no_file = Hosts(HostsFile(KeyBlock("good_key")));
  EXPECT_NE(no_file.exit_code, 0);
  EXPECT_THAT(no_file.out, HasSubstr("ssh-keyscan -p " + port));
}

TEST_F(SshTransportTest, ChangedHostKeyIsRefused) {
  ASSERT_EQ(Shell("ssh-keygen -q -t ed25519 -N '' -f " + root_.path() + "/impostor"), 0);
  std::string impostor;
  ASSERT_EQ(Shell("cut -d' ' -f1-2 " + root_.path() + "/impostor.pub", &impostor), 0);
  root_.WriteFile("client/known_hosts",
                  "[127.0.0.1]:" + std::to_string(sshd_->port()) + " " + impostor);
  CommandResult result = Hosts(HostsFile(KeyBlock("good_key")));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.out, HasSubstr("REFUSED: the host key of [127.0.0.1]:"));
  EXPECT_THAT(result.out, HasSubstr("has CHANGED"));
}

TEST_F(SshTransportTest, MissingAgentSocketIsNamed) {
  CommandResult result = Hosts(HostsFile(KeyBlock("good_key"), "/nonexistent/agent.sock"));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.out, HasSubstr("cannot reach the agent at /nonexistent/agent.sock"));
}

// An agent that listens on a loopback port instead of a socket is reached
// through a direct-tcpip channel; it too sees the SSH user's uid (the
// connection comes from that user's sshd process on the host).
TEST_F(SshTransportTest, TunnelReachesALoopbackPortWithDirectTcpip) {
  AgentProcessOptions options;
  options.user = kUser;
  options.extra_args = {"--listen=127.0.0.1:0", "--insecure"};
  AgentProcess tcp_agent(options);
  ASSERT_TRUE(tcp_agent.Start());
  const int port = tcp_agent.TcpPort();
  ASSERT_GT(port, 0);

  mlcube::SshTunnel::Options tunnel_options;
  tunnel_options.ssh.host = "127.0.0.1";
  tunnel_options.ssh.port = sshd_->port();
  tunnel_options.ssh.user = kUser;
  tunnel_options.ssh.identity_file = client_dir_ + "/good_key";
  tunnel_options.ssh_dir = client_dir_;
  tunnel_options.remote = "127.0.0.1:" + std::to_string(port);
  auto tunnel = mlcube::SshTunnel::Open(tunnel_options);
  ASSERT_TRUE(tunnel.ok()) << tunnel.status() << sshd_->Log();
  mlcube_remote::v1::Agent::Stub stub(
      grpc::CreateChannel((*tunnel)->grpc_target(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  mlcube_remote::v1::AgentInfo info;
  grpc::Status status = stub.GetInfo(&context, {}, &info);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(info.caller_identity(), "uid-" + std::to_string(tcp_agent.uid()));
}

// An echo server on a unix socket the SSH user can reach; checks that the
// pump moves much more than one SSH window both ways without loss, reorder or
// deadlock, with several connections at once.
TEST_F(SshTransportTest, TunnelCarriesBulkDataBothWays) {
  const std::string echo_path = root_.path() + "/echo.sock";
  int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  strncpy(address.sun_path, echo_path.c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  chmod(echo_path.c_str(), 0666);
  ASSERT_EQ(listen(listener, 8), 0);
  std::vector<std::thread> echoers;
  std::thread acceptor([&] {
    for (int i = 0; i < 3; ++i) {
      int fd = accept(listener, nullptr, nullptr);
      if (fd < 0) return;
      echoers.emplace_back([fd] {
        char buffer[65536];
        ssize_t n;
        while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
          for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buffer + off, n - off);
            if (w <= 0) break;
            off += w;
          }
        }
        close(fd);
      });
    }
  });

  mlcube::SshTunnel::Options options;
  options.ssh.host = "127.0.0.1";
  options.ssh.port = sshd_->port();
  options.ssh.user = kUser;
  options.ssh.identity_file = client_dir_ + "/good_key";
  options.ssh_dir = client_dir_;
  options.remote = echo_path;
  auto tunnel = mlcube::SshTunnel::Open(options);
  // The probe channel was the acceptor's first connection.
  ASSERT_TRUE(tunnel.ok()) << tunnel.status() << sshd_->Log();
  const std::string proxy = (*tunnel)->grpc_target().substr(7);
  struct stat dir_stat {};
  ASSERT_EQ(stat(proxy.substr(0, proxy.rfind('/')).c_str(), &dir_stat), 0);
  EXPECT_EQ(dir_stat.st_mode & 0777, 0700u);

  auto round_trip = [&](size_t bytes, unsigned seed, std::string* error) {
    std::string data(bytes, '\0');
    std::mt19937 random(seed);
    for (char& c : data) c = static_cast<char>(random());
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    strncpy(a.sun_path, proxy.c_str(), sizeof(a.sun_path) - 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      *error = "connect failed";
      return;
    }
    std::thread writer([&] {
      for (size_t off = 0; off < data.size();) {
        ssize_t w = write(fd, data.data() + off, std::min<size_t>(100000, data.size() - off));
        if (w <= 0) return;
        off += w;
      }
      shutdown(fd, SHUT_WR);
    });
    std::string echoed;
    char buffer[65536];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof(buffer))) > 0) echoed.append(buffer, n);
    writer.join();
    close(fd);
    if (echoed != data) {
      *error = "echo differs: got " + std::to_string(echoed.size()) + " of " +
               std::to_string(data.size()) + " bytes";
    }
  };
  std::string error1, error2;
  std::thread first([&] { round_trip(24 << 20, 1, &error1); });
  std::thread second([&] { round_trip(3 << 20, 2, &error2); });
  first.join();
  second.join();
  EXPECT_EQ(error1, "");
  EXPECT_EQ(error2, "");
  tunnel->reset();
  // The private directory is gone with the tunnel.
  EXPECT_NE(access(proxy.c_str(), F_OK), 0);
  shutdown(listener, SHUT_RDWR);
  close(listener);
  acceptor.join();
  for (auto& t : echoers) t.join();
}

}  // namespace
}  // namespace mlcube_test
