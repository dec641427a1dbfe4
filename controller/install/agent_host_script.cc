#include "controller/install/agent_host_script.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "controller/transport/ssh_command.h"

namespace mlcube {
namespace {

constexpr char kScript[] =
#include "agent_host_script.inc"
    ;

bool SafeArgument(const std::string& arg) {
  if (arg.empty()) return false;
  for (char c : arg) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    absl::StrContains("._/:=+-", c);
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string AgentHostReport::Get(const std::string& key) const {
  auto found = values.find(key);
  return found == values.end() ? "" : found->second;
}

const char* AgentHostScript::Text() { return kScript; }

absl::StatusOr<AgentHostReport> AgentHostScript::Run(SshSession& session, AgentScope scope,
                                                     const std::string& action,
                                                     const std::vector<std::string>& args,
                                                     bool use_sudo) {
  std::vector<std::string> words = {action, scope == AgentScope::kSystem ? "system" : "user"};
  words.insert(words.end(), args.begin(), args.end());
  for (const std::string& word : words) {
    if (!SafeArgument(word)) {
      return absl::InvalidArgumentError(
          absl::StrCat("agent host script: bad argument '", word, "'"));
    }
  }
  const std::string command =
      absl::StrCat(use_sudo ? "sudo -n " : "", "/bin/sh -s -- ", absl::StrJoin(words, " "));
  SshCommandInput input;
  input.text = kScript;
  absl::StatusOr<SshCommandResult> result = RunSshCommand(session, command, input);
  if (!result.ok()) return result.status();
  AgentHostReport report;
  std::string error;
  for (absl::string_view line : absl::StrSplit(result->out, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "say ")) {
      report.said.emplace_back(line);
    } else if (absl::ConsumePrefix(&line, "kv ")) {
      const size_t equals = line.find('=');
      if (equals != absl::string_view::npos) {
        report.values[std::string(line.substr(0, equals))] = std::string(line.substr(equals + 1));
      }
    } else if (absl::ConsumePrefix(&line, "error ")) {
      error = std::string(line);
    }
  }
  if (!error.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(session.description(), ": ", error));
  }
  if (result->exit_status != 0) {
    std::string err(absl::StripAsciiWhitespace(result->err));
    return absl::UnavailableError(absl::StrCat(
        session.description(), ": `", use_sudo ? "sudo -n " : "", "/bin/sh -s ", action,
        "` exited with status ", result->exit_status, err.empty() ? "" : ": ", err));
  }
  return report;
}

}  // namespace mlcube
