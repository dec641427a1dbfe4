// mlcube-agent: the daemon that runs cube tasks on a compute host.
//
//   mlcube-agent serve [--config=FILE] [--listen=ADDR]... [--state-dir=DIR] [--insecure]
//   mlcube-agent certs init --dir=DIR --host=NAME... [--client-name=NAME]
//   mlcube-agent certs client --dir=DIR --name=NAME
//   mlcube-agent supervise ...   (internal: runs one task detached, see
//                                 agent/task_supervisor.h)

#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/agent_config.h"
#include "agent/agent_info_service.h"
#include "agent/agent_server.h"
#include "agent/caller_identity.h"
#include "agent/certs_init.h"  // transport helper: TLS
#include "agent/job_manager.h"
#include "agent/jobs_service.h"
#include "agent/runtime_inventory.h"
#include "agent/stream_limiter.h"
#include "agent/sync_services.h"
#include "agent/task_supervisor.h"
#include "agent/tls_server_credentials.h"  // transport helper: TLS

namespace {

constexpr char kDefaultConfig[] = "/etc/mlcube-agent/agent.yaml";

struct ServeFlags {
  std::string config_file;
  std::vector<std::string> listen;
  std::string state_dir;
  std::string image_dir;
  int max_concurrent_jobs = 0;
  bool insecure = false;  // transport helper: TLS
};

absl::StatusOr<mlcube::AgentConfig> BuildConfig(const ServeFlags& flags) {
  mlcube::AgentConfig config;
  if (!flags.config_file.empty()) {
    auto loaded = mlcube::LoadAgentConfigFile(flags.config_file);
    if (!loaded.ok()) return loaded.status();
    config = *loaded;
  } else if (access(kDefaultConfig, F_OK) == 0) {
    auto loaded = mlcube::LoadAgentConfigFile(kDefaultConfig);
    if (!loaded.ok()) return loaded.status();
    config = *loaded;
  }
  if (!flags.listen.empty()) config.listen = flags.listen;
  if (!flags.state_dir.empty()) config.state_dir = flags.state_dir;
  if (!flags.image_dir.empty()) config.image_dir = flags.image_dir;
  if (flags.max_concurrent_jobs > 0) config.max_concurrent_jobs = flags.max_concurrent_jobs;
  config.insecure = flags.insecure;  // transport helper: TLS
  absl::Status valid = mlcube::ValidateAgentConfig(config);
  if (!valid.ok()) return valid;
  return config;
}

absl::Status MakeDirs(const std::string& path) {
  std::string partial;
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      partial = path.substr(0, i);
      if (mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
        return absl::PermissionDeniedError(
            absl::StrCat("cannot create ", partial, ": ", strerror(errno)));
      }
    }
  }
  return absl::OkStatus();
}

// The agent binary itself: supervisors are started from it.
std::string SelfExe() {
  char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return "mlcube-agent";
  std::string self(path, n);
  // After an upgrade replaced the binary, the new one at the same path
  // supervises new steps.
  const std::string deleted = " (deleted)";
  if (self.size() > deleted.size() &&
      self.compare(self.size() - deleted.size(), deleted.size(), deleted) == 0) {
    self.resize(self.size() - deleted.size());
  }
  return self;
}

int Serve(const ServeFlags& flags) {
  // Block the stop signals in every thread; one thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto config = BuildConfig(flags);
  if (!config.ok()) {
    std::cerr << "mlcube-agent: " << config.status().message() << "\n";
    return 2;
  }
  for (const std::string& dir : {config->state_dir, config->state_dir + "/jobs",
                                 config->state_dir + "/cubes", config->EffectiveImageDir()}) {
    absl::Status made = MakeDirs(dir);
    if (!made.ok()) {
      std::cerr << "mlcube-agent: " << made.message() << "\n";
      return 1;
    }
  }
  for (const std::string& address : config->listen) {
    if (address.rfind("unix://", 0) == 0) {
      const std::string path = address.substr(7);
      (void)MakeDirs(path.substr(0, path.rfind('/')));
    }
  }

  const mlcube::RuntimeInventory inventory = mlcube::RuntimeInventory::Detect(*config);
  mlcube::AgentInfoService agent_info(*config, inventory);
  mlcube::JobManager jobs(*config, inventory, SelfExe());
  mlcube::StreamLimiter streams(config->limits.open_streams);
  mlcube::JobsService jobs_service(&jobs, &streams);

  // The services this agent serves. Keep this list short and flat.
  std::vector<grpc::Service*> services = {
      &agent_info,
      &jobs_service,
  };
  auto sync = mlcube::SyncServices::Create(config->state_dir, config->limits.stored_bytes, &streams,
                                           mlcube::CallerIdentity);
  if (!sync.ok()) {
    std::cerr << "mlcube-agent: " << sync.status().message() << "\n";
    return 1;
  }
  for (grpc::Service* service : (*sync)->services()) services.push_back(service);  // sync
  // A job's tasks may write into the cube's inputs: the next push re-checks.
  jobs.SetWorkspaceUseHook(
      [workspaces = (*sync)->workspaces()](const std::string& owner, const std::string& cube_id) {
        workspaces->MarkWorkspaceUsed(owner, cube_id);
      });
  (*sync)->workspaces()->SetJobLookup(  // sync: Snapshot(job_id) pulls a job's outputs
      [&jobs](const std::string& owner,
              const std::string& id) -> absl::StatusOr<mlcube::WorkspacesService::JobOutputs> {
        auto outputs = jobs.OutputsOf(owner, id);
        if (!outputs.ok()) return outputs.status();
        return mlcube::WorkspacesService::JobOutputs{outputs->first, std::move(outputs->second)};
      });
  agent_info.SetStoredBytesLookup(
      [quota = (*sync)->quota()](const std::string& owner) { return quota->RecentBytesOf(owner); });
  (*sync)->workspaces()->SetActiveJobsLookup(
      [&jobs](const std::string& owner, const std::string& cube_id) {
        std::vector<std::string> ids;
        for (const auto& job : jobs.List(owner, /*all=*/false, cube_id)) ids.push_back(job.id());
        return ids;
      });
  jobs.Start();  // after its hooks are set: re-attached jobs use them

  mlcube::AgentServer server(config->listen);
  for (grpc::Service* service : services) server.RegisterService(service);
  // ---- BEGIN transport helper: TLS ----
  std::shared_ptr<grpc::ServerCredentials> tls;
  if (config->tls.enabled()) {
    auto loaded = mlcube::LoadTlsServerCredentials(config->tls);
    if (!loaded.ok()) {
      std::cerr << "mlcube-agent: " << loaded.status().message() << "\n";
      return 1;
    }
    tls = *loaded;
  }
  server.SetTcpSecurity(tls, config->insecure);
  gid_t socket_group = static_cast<gid_t>(-1);
  if (!config->unix_socket_group.empty()) {
    struct group* entry = getgrnam(config->unix_socket_group.c_str());
    if (entry == nullptr) {
      std::cerr << "mlcube-agent: unix_socket.group: no group '" << config->unix_socket_group
                << "'\n";
      return 1;
    }
    socket_group = entry->gr_gid;
  }
  server.SetUnixSocketAccess(static_cast<mode_t>(config->unix_socket_mode), socket_group);
  // ---- END transport helper: TLS ----
  absl::Status started = server.Start();
  if (!started.ok()) {
    std::cerr << "mlcube-agent: " << started.message() << "\n";
    return 1;
  }
  std::cerr << "mlcube-agent " << MLCUBE_REMOTE_VERSION << " listening on";
  size_t tcp_index = 0;
  for (const std::string& address : config->listen) {
    if (address.rfind("unix://", 0) == 0) {
      std::cerr << " " << address;
    } else {
      std::cerr << " " << address.substr(0, address.rfind(':') + 1)
                << server.tcp_ports()[tcp_index++];
    }
  }
  std::cerr << "; state dir " << config->state_dir << "; runtimes:";
  for (const auto& r : inventory.runtimes()) std::cerr << " " << r.name << " " << r.version;
  std::cerr << std::endl;

  std::thread signal_waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    server.Shutdown();
  });
  server.Wait();
  // Tasks keep running (they are supervised outside this process); a
  // restarted agent re-attaches to them.
  std::cerr << "mlcube-agent: stopped" << std::endl;
  _exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  // Internal: runs one job step detached (see agent/task_supervisor.h).
  // Handled before CLI11 so the task's own arguments are passed untouched.
  if (argc >= 2 && std::string(argv[1]) == "supervise") {
    return mlcube::TaskSupervisor::Main(std::vector<std::string>(argv + 2, argv + argc));
  }
  CLI::App app{"mlcube-agent: runs MLCube tasks on this host for mlcube-remote controllers"};
  app.set_version_flag("--version", std::string("mlcube-agent ") + MLCUBE_REMOTE_VERSION);
  app.require_subcommand(1);

  ServeFlags flags;
  CLI::App* serve = app.add_subcommand("serve", "Serve the gRPC API");
  serve->add_option("--config", flags.config_file,
                    absl::StrCat("YAML config file (default ", kDefaultConfig, " if present)"));
  serve->add_option("--listen", flags.listen,
                    "Address to listen on: unix:///path/agent.sock or HOST:PORT (repeatable)");
  serve->add_option("--state-dir", flags.state_dir, "State directory (jobs, blobs, cubes)");
  serve->add_option("--image-dir", flags.image_dir, "Directory for SIF images");
  serve->add_option("--max-concurrent-jobs", flags.max_concurrent_jobs, "Jobs run at once");
  // ---- BEGIN transport helper: TLS ----
  serve->add_flag("--insecure", flags.insecure,
                  "Allow plain TCP without TLS on loopback addresses (tests only)");
  mlcube::CertsInitOptions certs_options;
  CLI::App* certs = app.add_subcommand("certs", "Certificates for mutual TLS");
  certs->require_subcommand(1);
  CLI::App* certs_init = certs->add_subcommand(
      "init", "Create a CA, a server certificate and a client certificate (quick start)");
  certs_init->add_option("--dir", certs_options.dir, "Directory to write them to")->required();
  certs_init
      ->add_option("--host", certs_options.hosts,
                   "Name or address controllers reach this agent at (repeatable)")
      ->required();
  certs_init->add_option("--client-name", certs_options.client_name,
                         "Common name of the client certificate (default: your user name)");
  std::string client_dir, client_name;
  CLI::App* certs_client = certs->add_subcommand(
      "client", "One more client certificate from the CA that `certs init` made");
  certs_client->add_option("--dir", client_dir, "The directory `certs init` wrote")->required();
  certs_client->add_option("--name", client_name, "The user's name (their identity: cn-NAME)")
      ->required();
  // ---- END transport helper: TLS ----

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (serve->parsed()) return Serve(flags);
  if (certs_init->parsed()) {  // transport helper: TLS
    absl::Status done = mlcube::CertsInit(certs_options, std::cout);
    if (!done.ok()) std::cerr << "mlcube-agent: " << done.message() << "\n";
    return done.ok() ? 0 : 1;
  }
  if (certs_client->parsed()) {  // transport helper: TLS
    absl::Status done = mlcube::CertsIssueClient(client_dir, client_name, std::cout);
    if (!done.ok()) std::cerr << "mlcube-agent: " << done.message() << "\n";
    return done.ok() ? 0 : 1;
  }
  return 0;
}
