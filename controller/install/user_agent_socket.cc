#include "controller/install/user_agent_socket.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "controller/install/agent_host_script.h"

namespace mlcube {

absl::StatusOr<std::string> EnsureUserAgentSocket(SshSession& session,
                                                  const std::string& host_name) {
  absl::StatusOr<AgentHostReport> report =
      AgentHostScript::Run(session, AgentScope::kUser, "ensure", {MLCUBE_REMOTE_VERSION});
  if (!report.ok()) return report.status();
  if (report->Get("current").empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no mlcube-agent is installed for ", session.description(),
                     "; install it with `mlcube-remote agent install --host=", host_name, "`"));
  }
  // Transport code has no console: these two lines go straight to stderr.
  if (report->Get("started") == "yes") {
    std::cerr << "mlcube-remote: " << host_name << ": your agent was not running; started it ("
              << report->Get("current") << ")\n";
  }
  const std::string version = report->Get("current");
  if (version != MLCUBE_REMOTE_VERSION) {
    std::cerr << "mlcube-remote: " << host_name << ": agent " << version << ", controller "
              << MLCUBE_REMOTE_VERSION << ": run `mlcube-remote agent upgrade --host=" << host_name
              << "`\n";
  }
  const std::string socket = report->Get("socket");
  if (socket.empty() || socket[0] != '/') {
    return absl::FailedPreconditionError(
        absl::StrCat(session.description(), ": the agent host script named no socket"));
  }
  return socket;
}

}  // namespace mlcube
