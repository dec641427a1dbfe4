// mlcube-agent: the daemon that runs cube tasks on a compute host.
//
//   mlcube-agent serve [--config=FILE] [--listen=ADDR]... [--state-dir=DIR] [--insecure]
//   mlcube-agent certs init --dir=DIR --host=NAME... [--client-name=NAME]
//   mlcube-agent certs client --dir=DIR --name=NAME
//   mlcube-agent supervise ...   (internal: runs one task detached, see
//                                 agent/schedulers/task_supervisor.h)

#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "agent/access/workspace_access.h"
#include "agent/config/agent_config.h"
#include "agent/jobs/job_manager.h"
#include "agent/log/log.h"
#include "agent/metrics/agent_metrics.h"
#include "agent/metrics/metrics_server.h"
#include "agent/runtimes/runtime_inventory.h"
#include "agent/schedulers/task_supervisor.h"
#include "agent/server/agent_server.h"
#include "agent/server/caller_identity.h"
#include "agent/server/certs_init.h"
#include "agent/server/stream_limiter.h"
#include "agent/server/tls_server_credentials.h"
#include "agent/services/agent_info_service.h"
#include "agent/services/jobs_service.h"
#include "agent/services/sync_services.h"
#include "agent/state/state_layout.h"
#include "common/file_util.h"

namespace {

constexpr char kDefaultConfig[] = "/etc/mlcube-agent/agent.yaml";
// How long a stopping agent waits for its job threads to notice.
constexpr absl::Duration kJobThreadsGrace = absl::Seconds(2);

// The environment variables the agent reads, read once by main. Besides
// these the agent reads PATH (the binaries it runs, FindInPath) and copies
// the proxy variables into image builds (ContainerRuntime); README.md lists
// every variable.
struct AgentEnvironment {
  // MLCUBE_AGENT_SELF: the bundle's launcher, which runs the agent through
  // the bundled loader (tools/package-agent.sh); unset outside the bundle.
  std::optional<std::string> self_launcher;
  // JOURNAL_STREAM: systemd's "DEVICE:INODE" of the journal stream it gave
  // the service as stderr; empty when not started so.
  std::string journal_stream;
};

AgentEnvironment ReadAgentEnvironment() {
  AgentEnvironment env;
  if (const char* self = getenv("MLCUBE_AGENT_SELF")) env.self_launcher = self;
  if (const char* stream = getenv("JOURNAL_STREAM")) env.journal_stream = stream;
  return env;
}

struct ServeFlags {
  std::string config_file;
  std::vector<std::string> listen;
  std::string state_dir;
  std::string image_dir;
  int max_concurrent_jobs = 0;
  bool insecure = false;
  // Empty: agent.yaml's log_format.
  std::string log_format;
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
  config.insecure = flags.insecure;
  absl::Status valid = mlcube::ValidateAgentConfig(config);
  if (!valid.ok()) return valid;
  return config;
}

// The agent binary itself: supervisors are started from it. In the
// self-contained bundle (tools/package-agent.sh) /proc/self/exe is the
// bundled loader, so the bundle's launcher names itself in MLCUBE_AGENT_SELF.
std::string SelfExe(const AgentEnvironment& env) {
  const std::string launcher = env.self_launcher.value_or("");
  if (!launcher.empty() && launcher[0] == '/' && access(launcher.c_str(), X_OK) == 0) {
    return launcher;
  }
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

// The directories the agent needs before it serves.
absl::Status PrepareDirectories(const mlcube::AgentConfig& config,
                                const mlcube::StateLayout& layout) {
  for (const std::string& dir :
       {layout.root(), layout.JobsDir(), layout.CubesDir(), layout.ImagesDir()}) {
    if (absl::Status made = mlcube::MakeDirs(dir, 0700); !made.ok()) return made;
  }
  for (const std::string& address : config.listen) {
    if (address.rfind("unix://", 0) == 0) {
      const std::string path = address.substr(7);
      // Discarded on purpose: when the directory cannot be made, binding
      // the socket fails next, with an error naming the path.
      (void)mlcube::MakeDirs(path.substr(0, path.rfind('/')));
    }
  }
  return absl::OkStatus();
}

// Mutual TLS for TCP addresses and who may open the unix sockets.
absl::Status ConfigureAccess(const mlcube::AgentConfig& config, mlcube::AgentServer* server) {
  std::shared_ptr<grpc::ServerCredentials> tls;
  if (config.tls.enabled()) {
    auto loaded = mlcube::LoadTlsServerCredentials(config.tls);
    if (!loaded.ok()) return loaded.status();
    tls = *loaded;
  }
  server->SetTcpSecurity(tls, config.insecure);
  gid_t socket_group = static_cast<gid_t>(-1);
  if (!config.unix_socket_group.empty()) {
    struct group* entry = getgrnam(config.unix_socket_group.c_str());
    if (entry == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unix_socket.group: no group '", config.unix_socket_group, "'"));
    }
    socket_group = entry->gr_gid;
  }
  server->SetUnixSocketAccess(static_cast<mode_t>(config.unix_socket_mode), socket_group);
  return absl::OkStatus();
}

void PrintListening(const mlcube::AgentConfig& config, const mlcube::AgentServer& server,
                    const mlcube::RuntimeInventory& inventory) {
  std::string line = absl::StrCat("mlcube-agent ", MLCUBE_REMOTE_VERSION, " listening on");
  size_t tcp_index = 0;
  for (const std::string& address : config.listen) {
    if (address.rfind("unix://", 0) == 0) {
      absl::StrAppend(&line, " ", address);
    } else {
      absl::StrAppend(&line, " ", address.substr(0, address.rfind(':') + 1),
                      server.tcp_ports()[tcp_index++]);
    }
  }
  absl::StrAppend(&line, "; state dir ", config.state_dir, "; runtimes:");
  for (const auto& r : inventory.runtimes()) absl::StrAppend(&line, " ", r.name, " ", r.version);
  mlcube::LogLine(line);
}

// Starts SecureExistingWorkspaces on a thread of its own; none (logged)
// when the system has no thread to give: the trees then wait for the next
// start or their next job.
std::thread StartSecuringWorkspaces(const mlcube::StateLayout& layout,
                                    mlcube::TaskUserResolver* resolver,
                                    const absl::Notification& stop) {
  try {
    return std::thread(
        [&layout, resolver, &stop] { mlcube::SecureExistingWorkspaces(layout, resolver, stop); });
  } catch (const std::system_error& e) {
    mlcube::LogWarning(absl::StrCat("workspace access lists are not checked: ", e.what()));
    return std::thread();
  }
}

int Fail(const absl::Status& status, int code) {
  mlcube::LogWith(mlcube::LogFields{}, mlcube::LogLevel::kError, status.message());
  return code;
}

// What the metrics endpoint reads: the job manager, the runtimes, the state
// directory and, where the admin enables it, each identity's stored bytes.
std::unique_ptr<mlcube::AgentMetrics> MakeMetrics(const mlcube::AgentConfig& config,
                                                  const mlcube::StateLayout& layout,
                                                  const mlcube::RuntimeInventory& inventory,
                                                  mlcube::JobManager* jobs,
                                                  mlcube::StorageQuota* quota) {
  mlcube::AgentMetricSources sources;
  sources.jobs_by_state = [jobs] { return jobs->CountByState(); };
  sources.gpus_total = [jobs] { return jobs->TotalGpus(); };
  sources.gpus_free = [jobs] { return jobs->FreeGpus(); };
  sources.runtimes_up = [&config, &inventory] {
    std::map<std::string, bool> up;
    for (const auto& [name, runtime] : config.runtimes) {
      if (runtime.enabled) up[name] = inventory.Find(name) != nullptr;
    }
    return up;
  };
  sources.state_dir = layout.root();
  if (config.metrics.identity_labels) {
    sources.stored_bytes_by_identity = [&layout, quota] {
      std::map<std::string, int64_t> bytes;
      for (const std::string& owner : mlcube::ListNames(layout.CubesDir(), "")) {
        bytes[owner] = quota->RecentBytesOf(owner);
      }
      return bytes;
    };
  }
  auto metrics = std::make_unique<mlcube::AgentMetrics>(std::move(sources));
  jobs->set_statistics(&metrics->job_statistics());
  return metrics;
}

// The composition root: builds every module, wires them, serves until
// SIGTERM/SIGINT.

int Serve(const ServeFlags& flags, const AgentEnvironment& env) {
  // Block the stop signals in every thread; one thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto config = BuildConfig(flags);
  if (!config.ok()) return Fail(config.status(), 2);
  // Before any thread starts (the log's contract).
  absl::Status logging = mlcube::ConfigureAgentLog(
      flags.log_format.empty() ? config->log_format : flags.log_format, env.journal_stream);
  if (!logging.ok()) return Fail(logging, 2);
  const mlcube::StateLayout layout(config->state_dir, config->EffectiveImageDir());
  if (absl::Status made = PrepareDirectories(*config, layout); !made.ok()) return Fail(made, 1);
  // Nothing the agent makes from here on is for other users: workspaces
  // carry their own access lists (TreeAcl), everything else is the agent's
  // alone, even when a task gets it bind-mounted (a raced mount ignores the
  // parent directories' permissions).
  umask(077);
  if (!config->slurm_shared_dir.empty()) {
    std::string note;
    absl::Status shared = mlcube::CheckSlurmSharedDir(*config, &note);
    if (!shared.ok()) return Fail(shared, 2);
    if (!note.empty()) mlcube::Log(absl::StrCat("note: ", note));
  }

  absl::StatusOr<mlcube::RuntimeInventory> detected = mlcube::RuntimeInventory::Detect(*config);
  if (!detected.ok()) return Fail(detected.status(), 2);
  const mlcube::RuntimeInventory& inventory = *detected;
  auto task_users = mlcube::TaskUserResolver::Create(config->task_users, layout.TaskUsersFile(),
                                                     geteuid(), getegid());
  if (!task_users.ok()) return Fail(task_users.status(), 1);
  mlcube::JobManager jobs(*config, layout, inventory, task_users->get(), SelfExe(env));
  mlcube::StreamLimiter streams(config->limits.open_streams);
  auto sync = mlcube::SyncServices::Create(&layout, config->limits.stored_bytes, &streams, &jobs,
                                           mlcube::CallerIdentity);
  if (!sync.ok()) return Fail(sync.status(), 1);
  mlcube::AgentInfoService agent_info(*config, inventory, (*sync)->quota(), &jobs);
  std::unique_ptr<mlcube::AgentMetrics> metrics;
  if (!config->metrics.listen.empty()) {
    metrics = MakeMetrics(*config, layout, inventory, &jobs, (*sync)->quota());
  }
  mlcube::JobsService jobs_service(&jobs, &streams);
  // A job's tasks may write into the cube's inputs: the next push re-checks.
  jobs.Start((*sync)->workspaces());

  mlcube::AgentServer server(config->listen);
  server.RegisterService(&agent_info);
  server.RegisterService(&jobs_service);
  for (grpc::Service* service : (*sync)->services()) server.RegisterService(service);
  if (absl::Status access = ConfigureAccess(*config, &server); !access.ok()) return Fail(access, 1);
  server.SetConnectionLimits(config->limits.connections, config->limits.idle_connection_seconds);
  if (metrics != nullptr) server.AddInterceptor(metrics->rpc().InterceptorFactory());
  if (absl::Status started = server.Start(); !started.ok()) return Fail(started, 1);
  PrintListening(*config, server, inventory);
  std::unique_ptr<mlcube::MetricsServer> metrics_server;
  if (metrics != nullptr) {
    auto serving = mlcube::MetricsServer::Start(config->metrics.listen,
                                                [&metrics] { return metrics->Collect(); });
    if (!serving.ok()) return Fail(serving.status(), 1);
    metrics_server = std::move(*serving);
    mlcube::Log(absl::StrCat("Prometheus metrics at http://",
                             config->metrics.listen.substr(0, config->metrics.listen.rfind(':')),
                             ":", metrics_server->port(), "/metrics"));
  }
  // Trees from before access lists: private from now on, not only from
  // their next job.
  absl::Notification stop;
  std::thread secure = StartSecuringWorkspaces(layout, task_users->get(), stop);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  server.Shutdown();  // open calls get 2 s
  server.Wait();
  stop.Notify();
  if (secure.joinable()) secure.join();
  // Tasks keep running (they are supervised outside this process); a
  // restarted agent re-attaches to them.
  if (!jobs.Stop(kJobThreadsGrace)) {
    // A job thread inside a slow query (a container that has not started
    // yet): destroying what it uses is not safe, and a restart picks its
    // job up anyway, so the process ends without destructors.
    mlcube::Log("job threads still busy; not waiting for them");
    mlcube::Log("stopped");
    _exit(0);
  }
  jobs.set_statistics(nullptr);  // destroyed before the job manager
  mlcube::Log("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Started by the bundle's launcher, the process is the bundled loader
  // ("ld-linux-x86-64"); name it after the agent for ps, top and pgrep.
  const AgentEnvironment env = ReadAgentEnvironment();
  if (env.self_launcher.has_value()) prctl(PR_SET_NAME, "mlcube-agent", 0, 0, 0);
  // Internal: runs one job step detached (see agent/schedulers/task_supervisor.h).
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
  serve->add_option("--log-format", flags.log_format,
                    "The agent's own log: auto (the journal under systemd, else text), text, "
                    "json (one object per line) or journal");
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (serve->parsed()) return Serve(flags, env);
  if (certs_init->parsed()) {
    absl::Status done = mlcube::CertsInit(certs_options, std::cout);
    if (!done.ok()) mlcube::Log(done.message());
    return done.ok() ? 0 : 1;
  }
  if (certs_client->parsed()) {
    absl::Status done = mlcube::CertsIssueClient(client_dir, client_name, std::cout);
    if (!done.ok()) mlcube::Log(done.message());
    return done.ok() ? 0 : 1;
  }
  return 0;
}
