#include "controller/commands/hosts_command.h"

#include <chrono>
#include <future>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "controller/hosts/hosts_file.h"
#include "controller/install/agent_connector.h"
#include "controller/terminal/exit_codes.h"
#include "controller/terminal/progress_reporter.h"
#include "controller/transport/agent_connection.h"

namespace mlcube {
namespace {

struct HostReport {
  std::string name;
  std::string address;
  bool reachable = false;
  std::string error;
  mlcube_remote::v1::AgentInfo info;
  double round_trip_ms = 0;
};

HostReport Probe(const HostEntry& host) {
  HostReport report;
  report.name = host.name;
  report.address = host.has_ssh ? absl::StrCat("ssh://", host.ssh.host) : host.address;
  absl::StatusOr<std::unique_ptr<AgentConnection>> connection = ConnectToAgent(host);
  if (!connection.ok()) {
    report.error = std::string(connection.status().message());
    return report;
  }
  // The first call pays for connecting; the second measures a round trip.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto context = AgentConnection::Context(std::chrono::milliseconds(attempt == 0 ? 5000 : 2000));
    const auto start = std::chrono::steady_clock::now();
    grpc::Status status =
        (*connection)
            ->agent()
            .GetInfo(context.get(), mlcube_remote::v1::GetInfoRequest(), &report.info);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (!status.ok()) {
      report.error = status.error_message();
      return report;
    }
    report.round_trip_ms = std::chrono::duration<double, std::milli>(elapsed).count();
  }
  report.reachable = true;
  return report;
}

}  // namespace

int RunHostsCommand(const HostsLookup& hosts_lookup, const Console& console, std::ostream& out) {
  absl::StatusOr<HostsFile> hosts = LoadHostsFile(hosts_lookup);
  if (!hosts.ok()) {
    console.Error(hosts.status().message());
    return kExitBadInput;
  }
  if (hosts->path.empty()) {
    console.Info("no hosts file; using the built-in host 'local' (see README: hosts file)");
  }
  std::vector<std::future<HostReport>> probes;
  for (const auto& [name, host] : hosts->hosts) {
    probes.push_back(std::async(std::launch::async, Probe, host));
  }
  bool all_reachable = true;
  out << absl::StrFormat("%-12s %-8s %-10s %-38s %-6s %-10s %-9s %s\n", "HOST", "STATUS", "AGENT",
                         "RUNTIMES", "GPUS", "FREE", "RTT", "YOURS");
  for (std::future<HostReport>& probe : probes) {
    HostReport report = probe.get();
    const std::string name =
        report.name == hosts->default_host ? absl::StrCat(report.name, "*") : report.name;
    if (!report.reachable) {
      all_reachable = false;
      out << absl::StrFormat("%-12s %-8s %s: %s\n", name, "DOWN", report.address, report.error);
      continue;
    }
    std::vector<std::string> runtimes;
    for (const auto& runtime : report.info.runtimes()) {
      runtimes.push_back(absl::StrCat(runtime.name(), " ", runtime.version()));
    }
    // What the caller stores there, against its limit when the agent sets one.
    std::string yours = ProgressReporter::HumanBytes(report.info.caller_stored_bytes());
    if (report.info.limit_stored_bytes() > 0) {
      absl::StrAppend(&yours, " of ",
                      ProgressReporter::HumanBytes(report.info.limit_stored_bytes()));
    }
    // GPUs: free of total where the agent hands them out.
    const std::string gpus =
        report.info.gpus_allocated() && report.info.gpus_size() > 0
            ? absl::StrCat(report.info.gpus_free(), "/", report.info.gpus_size())
            : std::to_string(report.info.gpus_size());
    out << absl::StrFormat("%-12s %-8s %-10s %-38s %-6s %-10s %-9s %s\n", name, "up",
                           report.info.agent_version(),
                           runtimes.empty() ? "-" : absl::StrJoin(runtimes, ", "), gpus,
                           ProgressReporter::HumanBytes(report.info.state_dir_free_bytes()),
                           absl::StrFormat("%.1f ms", report.round_trip_ms), yours);
    // What one task may use there, when the agent says.
    std::vector<std::string> task_limits;
    if (report.info.limit_task_memory_bytes() > 0) {
      task_limits.push_back(absl::StrCat(
          ProgressReporter::HumanBytes(report.info.limit_task_memory_bytes()), " memory"));
    }
    if (report.info.limit_task_pids() > 0) {
      task_limits.push_back(absl::StrCat(report.info.limit_task_pids(), " processes"));
    }
    if (!task_limits.empty()) {
      out << "  " << report.name << ": a task may use " << absl::StrJoin(task_limits, ", ") << "\n";
    }
  }
  for (const auto& [group, members] : hosts->groups) {
    out << "group " << group << ": " << absl::StrJoin(members, ", ") << "\n";
  }
  return all_reachable ? kExitOk : kExitAgentError;
}

}  // namespace mlcube
