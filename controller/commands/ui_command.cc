#include "controller/commands/ui_command.h"

#include <spawn.h>
#include <sys/wait.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "controller/terminal/exit_codes.h"
#include "controller/terminal/interrupt_monitor.h"
#include "controller/ui/agent_pool.h"
#include "controller/ui/dashboard_data.h"
#include "controller/ui/dashboard_server.h"

extern char** environ;

namespace mlcube {
namespace {

// The cube whose sweeps the dashboard shows and whose outputs it pulls;
// none (with a note) when the current directory is no cube and none was
// named.
absl::StatusOr<std::optional<Cube>> DashboardCube(const UiCommandOptions& options,
                                                  const Console& console) {
  absl::StatusOr<Cube> cube = LoadCube(ToLoadOptions(options.cube));
  if (cube.ok()) return std::optional<Cube>(std::move(*cube));
  if (options.cube_given) return cube.status();
  console.Verbose(absl::StrCat("no cube here (", cube.status().message(),
                               "): the sweeps page stays empty; name one with --mlcube"));
  return std::optional<Cube>();
}

// Opens `url` in the user's browser with xdg-open; false when it could not.
bool OpenInBrowser(const std::string& url) {
  const char* argv[] = {"xdg-open", url.c_str(), nullptr};
  pid_t pid = 0;
  if (posix_spawnp(&pid, "xdg-open", nullptr, nullptr, const_cast<char* const*>(argv), environ) !=
      0) {
    return false;
  }
  int status = 0;
  return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

CLI::App* AddUiCommand(CLI::App* app, UiCommandOptions* options) {
  CLI::App* ui = app->add_subcommand(
      "ui", "A live web view of your hosts, jobs, logs and sweeps on 127.0.0.1 (Ctrl-C stops it)");
  AddCubeOptions(ui, &options->cube);
  ui->add_option("--port", options->port, "Port on 127.0.0.1 (default: any free port)")
      ->check(CLI::Range(0, 65535));
  ui->add_flag("--open", options->open, "Open the dashboard in your browser (xdg-open)");
  ui->callback([ui, options] { options->cube_given = ui->count("--mlcube") > 0; });
  return ui;
}

int RunUiCommand(const UiCommandOptions& options, const Console& console, std::ostream& out) {
  absl::StatusOr<HostsFile> hosts = LoadHostsFile(options.hosts_lookup);
  if (!hosts.ok()) {
    console.Error(hosts.status().message());
    return kExitBadInput;
  }
  absl::StatusOr<std::optional<Cube>> cube = DashboardCube(options, console);
  if (!cube.ok()) {
    console.Error(cube.status().message());
    return kExitBadInput;
  }
  AgentPool agents(std::move(*hosts));
  DashboardData data(&agents, std::move(*cube));
  absl::StatusOr<std::unique_ptr<DashboardServer>> server =
      DashboardServer::Bind(options.port, &agents, &data);
  if (!server.ok()) {
    console.Error(server.status().message());
    return kExitBadInput;
  }
  InterruptMonitor interrupts;
  interrupts.SetCallback([dashboard = server->get()](int) { dashboard->Stop(); });
  out << "mlcube-remote: dashboard at " << (*server)->Url() << std::endl;
  if (options.open && !OpenInBrowser((*server)->Url())) {
    console.Warning("could not start a browser (xdg-open); open the address above yourself");
  }
  (*server)->Serve();
  interrupts.SetCallback(nullptr);
  console.Info("dashboard stopped");
  return kExitOk;
}

}  // namespace mlcube
