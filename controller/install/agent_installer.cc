#include "controller/install/agent_installer.h"

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "controller/install/agent_bundle.h"
#include "controller/install/agent_connector.h"
#include "controller/transport/agent_connection.h"
#include "controller/transport/ssh_command.h"
#include "controller/transport/ssh_session.h"

namespace mlcube {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The upload goes into a fresh private directory; the command prints its path.
constexpr char kUploadCommand[] =
    "/bin/sh -c 'umask 077; d=$(mktemp -d \"${TMPDIR:-/tmp}/mlcube-agent-upload.XXXXXX\") && "
    "cat > \"$d/bundle.tar.gz\" && echo \"$d/bundle.tar.gz\"'";

}  // namespace

// One SSH session to the host, opened as `run` opens it.
class AgentInstaller::Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Open(const HostEntry& host) {
    if (!host.has_ssh) {
      return absl::InvalidArgumentError(absl::StrCat(
          "host '", host.name, "' has no ssh: block; `agent` commands reach hosts over SSH"));
    }
    auto ssh = SshSession::Connect(host.ssh, host.ssh.config_dir);
    if (!ssh.ok()) {
      return absl::Status(ssh.status().code(),
                          absl::StrCat("host '", host.name, "': ", ssh.status().message()));
    }
    return std::unique_ptr<Session>(new Session(std::move(*ssh)));
  }
  SshSession& ssh() { return *ssh_; }

 private:
  explicit Session(std::unique_ptr<SshSession> ssh) : ssh_(std::move(ssh)) {}
  std::unique_ptr<SshSession> ssh_;
};

AgentInstaller::AgentInstaller(HostEntry host, AgentScope scope, AgentBundlePlaces bundles,
                               const Console& console)
    : host_(std::move(host)), scope_(scope), bundles_(std::move(bundles)), console_(console) {}

void AgentInstaller::Say(const AgentHostReport& report) const {
  for (const std::string& line : report.said) console_.Info(absl::StrCat(host_.name, ": ", line));
}

void AgentInstaller::SayEngines(const AgentHostReport& probe) const {
  const std::string engines = probe.Get("engines");
  console_.Info(absl::StrCat(
      host_.name, ": container engines: ", engines.empty() ? "none found on PATH" : engines));
  const std::vector<std::string> found = absl::StrSplit(engines, ' ', absl::SkipEmpty());
  auto has = [&found](const char* engine) {
    return std::find(found.begin(), found.end(), engine) != found.end();
  };
  if (!has("docker") && has("podman")) {
    console_.Info(absl::StrCat(host_.name,
                               ": no docker there: the agent runs cubes' docker settings with "
                               "podman (or set `runtime: podman` for ",
                               host_.name, " in the hosts file)"));
  }
}

absl::Status AgentInstaller::CheckHost(const AgentHostReport& probe, bool* use_sudo) {
  if (probe.Get("os") != "Linux") {
    return absl::FailedPreconditionError(absl::StrCat(host_.name, " runs ", probe.Get("os"),
                                                      "; the agent runs on Linux hosts only"));
  }
  std::string os = probe.Get("os_id") + " " + probe.Get("os_version");
  console_.Info(absl::StrCat(
      host_.name, ": ", os, ", ", probe.Get("arch"), ", user ", probe.Get("user"),
      ", systemd: ", probe.Get("systemd"),
      scope_ == AgentScope::kUser ? ", user systemd: " + probe.Get("user_systemd") : "",
      scope_ == AgentScope::kUser ? ", lingering: " + probe.Get("linger") : ""));
  SayEngines(probe);
  *use_sudo = false;
  if (scope_ == AgentScope::kUser) return absl::OkStatus();
  if (probe.Get("sudo") == "no") {
    return absl::PermissionDeniedError(
        absl::StrCat(host_.name,
                     ": --system needs root or passwordless sudo there (`sudo -n true` failed); "
                     "without --system the agent is installed for ",
                     probe.Get("user"), " alone"));
  }
  if (probe.Get("systemd") != "yes") {
    return absl::FailedPreconditionError(
        absl::StrCat(host_.name,
                     ": --system needs systemd there (PID 1 is not systemd); install per user "
                     "instead (without --system)"));
  }
  *use_sudo = probe.Get("sudo") == "yes";
  return absl::OkStatus();
}

absl::StatusOr<std::string> AgentInstaller::Upload(Session& session, const std::string& arch,
                                                   const AgentHostReport& probe,
                                                   std::string* sha256) {
  absl::StatusOr<AgentBundle> bundle = FindAgentBundle(arch, bundles_);
  if (!bundle.ok()) return bundle.status();
  *sha256 = bundle->sha256;
  if (probe.Get("wanted_sha256") == bundle->sha256) return std::string("-");
  const Clock::time_point start = Clock::now();
  SshCommandInput input;
  input.file_path = bundle->path;
  absl::StatusOr<SshCommandResult> sent = RunSshCommand(session.ssh(), kUploadCommand, input);
  if (!sent.ok()) return sent.status();
  std::string remote(absl::StripTrailingAsciiWhitespace(sent->out));
  if (sent->exit_status != 0 || remote.empty() || remote[0] != '/') {
    return absl::UnavailableError(absl::StrCat(
        host_.name, ": uploading the bundle failed: ", absl::StripAsciiWhitespace(sent->err)));
  }
  console_.Info(absl::StrFormat("%s: uploaded %s (%.1f MiB) in %.2f s", host_.name,
                                bundle->file_name, bundle->size / 1048576.0, SecondsSince(start)));
  return remote;
}

absl::Status AgentInstaller::Install(bool upgrade) {
  const Clock::time_point start = Clock::now();
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Open(host_);
  if (!session.ok()) return session.status();
  absl::StatusOr<AgentHostReport> probe =
      AgentHostScript::Run((*session)->ssh(), scope_, "probe", {MLCUBE_REMOTE_VERSION});
  if (!probe.ok()) return probe.status();
  bool use_sudo = false;
  if (absl::Status ok = CheckHost(*probe, &use_sudo); !ok.ok()) return ok;
  if (upgrade && probe->Get("current").empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(host_.name,
                     ": no agent installed to upgrade; run `mlcube-remote agent "
                     "install --host=",
                     host_.name, scope_ == AgentScope::kSystem ? " --system`" : "`"));
  }
  std::string sha256;
  absl::StatusOr<std::string> upload = Upload(**session, probe->Get("arch"), *probe, &sha256);
  if (!upload.ok()) return upload.status();
  absl::StatusOr<AgentHostReport> setup = AgentHostScript::Run(
      (*session)->ssh(), scope_, "setup", {MLCUBE_REMOTE_VERSION, sha256, *upload}, use_sudo);
  if (!setup.ok()) return setup.status();
  Say(*setup);
  if (scope_ == AgentScope::kUser) {
    if (absl::Status answers = CheckAgentAnswers(); !answers.ok()) return answers;
  }
  console_.Info(absl::StrFormat("%s: agent %s ready (%.2f s)", host_.name, MLCUBE_REMOTE_VERSION,
                                SecondsSince(start)));
  return absl::OkStatus();
}

// The user's agent answers through the tunnel, as `run` will reach it.
absl::Status AgentInstaller::CheckAgentAnswers() {
  HostEntry own = host_;
  own.agent_socket.clear();
  absl::StatusOr<std::unique_ptr<AgentConnection>> connection = ConnectToAgent(own);
  if (!connection.ok()) return connection.status();
  auto context = AgentConnection::Context(std::chrono::seconds(10));
  mlcube_remote::v1::AgentInfo info;
  grpc::Status status =
      (*connection)->agent().GetInfo(context.get(), mlcube_remote::v1::GetInfoRequest(), &info);
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat(
        host_.name, ": the installed agent does not answer: ", status.error_message()));
  }
  console_.Info(absl::StrCat(host_.name, ": agent ", info.agent_version(), " answers as ",
                             info.caller_identity(), " through ", (*connection)->Describe()));
  return absl::OkStatus();
}

absl::Status AgentInstaller::Status(std::ostream& out) {
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Open(host_);
  if (!session.ok()) return session.status();
  absl::StatusOr<AgentHostReport> report =
      AgentHostScript::Run((*session)->ssh(), scope_, "status");
  if (!report.ok()) return report.status();
  const std::string current = report->Get("current");
  out << "host:      " << host_.name << " (" << (*session)->ssh().description() << ")\n";
  out << "scope:     " << (scope_ == AgentScope::kSystem ? "system" : "user") << "\n";
  out << "installed: " << (current.empty() ? "nothing" : report->Get("installed")) << "\n";
  out << "current:   " << (current.empty() ? "-" : current) << "\n";
  const std::string pid = report->Get("pid");
  out << "running:   "
      << (pid.empty() ? "no"
                      : absl::StrCat("pid ", pid, ", version ", report->Get("running_version"),
                                     ", ", report->Get("manager")))
      << "\n";
  out << "socket:    " << report->Get("socket") << "\n";
  out << "state:     " << report->Get("state_dir") << "\n";
  if (!current.empty() && current != MLCUBE_REMOTE_VERSION) {
    out << "this controller is " << MLCUBE_REMOTE_VERSION
        << ": `mlcube-remote agent upgrade --host=" << host_.name << "`\n";
  }
  return absl::OkStatus();
}

absl::Status AgentInstaller::Stop() { return RunAction("stop"); }

absl::Status AgentInstaller::Uninstall() { return RunAction("uninstall"); }

absl::Status AgentInstaller::RunAction(const std::string& action) {
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Open(host_);
  if (!session.ok()) return session.status();
  bool use_sudo = false;
  if (scope_ == AgentScope::kSystem) {
    absl::StatusOr<AgentHostReport> probe =
        AgentHostScript::Run((*session)->ssh(), scope_, "probe");
    if (!probe.ok()) return probe.status();
    use_sudo = probe->Get("sudo") == "yes";
  }
  absl::StatusOr<AgentHostReport> report =
      AgentHostScript::Run((*session)->ssh(), scope_, action, {}, use_sudo);
  if (!report.ok()) return report.status();
  Say(*report);
  return absl::OkStatus();
}

}  // namespace mlcube
