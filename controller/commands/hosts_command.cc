#include "controller/commands/hosts_command.h"

#include <future>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "controller/hosts/hosts_file.h"
#include "controller/remote/host_probe.h"
#include "controller/terminal/exit_codes.h"
#include "controller/terminal/progress_reporter.h"
#include "controller/terminal/text_columns.h"

namespace mlcube {

namespace {

// One line of the table for a host that answered; what one task may use
// there, when the agent says, in `notes`.
std::vector<std::string> UpRow(const std::string& name, const HostReport& report,
                               std::vector<std::string>* notes) {
  std::vector<std::string> runtimes;
  for (const auto& runtime : report.info.runtimes()) {
    runtimes.push_back(absl::StrCat(runtime.name(), " ", runtime.version()));
  }
  // What the caller stores there, against its limit when the agent sets one.
  std::string yours = ProgressReporter::HumanBytes(report.info.caller_stored_bytes());
  if (report.info.limit_stored_bytes() > 0) {
    absl::StrAppend(&yours, " of ", ProgressReporter::HumanBytes(report.info.limit_stored_bytes()));
  }
  // GPUs: free of total where the agent hands them out.
  const std::string gpus = report.info.gpus_allocated() && report.info.gpus_size() > 0
                               ? absl::StrCat(report.info.gpus_free(), "/", report.info.gpus_size())
                               : std::to_string(report.info.gpus_size());
  std::vector<std::string> task_limits;
  if (report.info.limit_task_memory_bytes() > 0) {
    task_limits.push_back(absl::StrCat(
        ProgressReporter::HumanBytes(report.info.limit_task_memory_bytes()), " memory"));
  }
  if (report.info.limit_task_pids() > 0) {
    task_limits.push_back(absl::StrCat(report.info.limit_task_pids(), " processes"));
  }
  if (!task_limits.empty()) {
    notes->push_back(
        absl::StrCat("  ", report.name, ": a task may use ", absl::StrJoin(task_limits, ", ")));
  }
  return {name,
          "up",
          report.info.agent_version(),
          runtimes.empty() ? "-" : absl::StrJoin(runtimes, ", "),
          gpus,
          ProgressReporter::HumanBytes(report.info.state_dir_free_bytes()),
          absl::StrFormat("%.1f ms", report.round_trip_ms),
          yours};
}

}  // namespace

int RunHostsCommand(const HostsLookup& hosts_lookup, const Console& console, std::ostream& out) {
  absl::StatusOr<HostsFile> hosts = LoadHostsFile(hosts_lookup);
  if (!hosts.ok()) {
    console.Error(hosts.status().message());
    return kExitBadInput;
  }
  if (hosts->path.empty()) {
    console.Info("no hosts file; using the built-in host 'local' (see docs/hosts-file.md)");
  }
  std::vector<std::future<HostReport>> probes;
  for (const auto& [name, host] : hosts->hosts) {
    probes.push_back(std::async(std::launch::async, ProbeHost, host));
  }
  bool all_reachable = true;
  std::vector<std::vector<std::string>> rows = {
      {"HOST", "STATUS", "AGENT", "RUNTIMES", "GPUS", "FREE", "RTT", "YOURS"}};
  std::vector<std::string> notes;
  for (std::future<HostReport>& probe : probes) {
    HostReport report = probe.get();
    const std::string name =
        report.name == hosts->default_host ? absl::StrCat(report.name, "*") : report.name;
    if (!report.reachable) {
      all_reachable = false;
      rows.push_back({name, "DOWN", absl::StrCat(report.address, ": ", report.error)});
      continue;
    }
    rows.push_back(UpRow(name, report, &notes));
  }
  out << FormatColumns(rows);
  for (const std::string& note : notes) out << note << "\n";
  for (const auto& [group, members] : hosts->groups) {
    out << "group " << group << ": " << absl::StrJoin(members, ", ") << "\n";
  }
  return all_reachable ? kExitOk : kExitAgentError;
}

}  // namespace mlcube
