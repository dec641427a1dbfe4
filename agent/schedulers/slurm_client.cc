#include "agent/schedulers/slurm_client.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/subprocess.h"

namespace mlcube {
namespace {

constexpr absl::Duration kCommandTimeout = absl::Seconds(60);
// Fields separated by '|' (a character no field of these contains).
constexpr char kSqueueFormat[] = "JobID:|,State:|,Reason:|,exit_code:|,NodeList:|";

std::string FirstLine(const std::string& text) {
  std::string line = std::string(absl::StripAsciiWhitespace(text));
  const size_t newline = line.find('\n');
  if (newline != std::string::npos) line.resize(newline);
  return line;
}

}  // namespace

SlurmClient::SlurmClient(std::string bin_dir) : bin_dir_(std::move(bin_dir)) {}

std::string SlurmClient::Binary(const std::string& name) const {
  return bin_dir_.empty() ? name : absl::StrCat(bin_dir_, "/", name);
}

absl::Status SlurmClient::CheckInstalled() const {
  for (const char* name : {"sbatch", "squeue", "scancel"}) {
    const std::string binary = Binary(name);
    if (!FindInPath(binary).ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(name,
                       " is not installed on this host (scheduler: slurm needs Slurm's "
                       "client commands in the agent's PATH)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SlurmClient::ParseSbatchOutput(const std::string& output) {
  // --parsable prints "ID" or "ID;CLUSTER"; warnings may come first.
  std::vector<std::string> lines = absl::StrSplit(output, '\n', absl::SkipWhitespace());
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    std::string id = std::string(absl::StripAsciiWhitespace(*it));
    id = id.substr(0, id.find(';'));
    uint64_t number = 0;
    if (!id.empty() && absl::SimpleAtoi(id, &number)) return id;
  }
  return absl::InternalError(absl::StrCat("sbatch printed no job id: ", FirstLine(output)));
}

std::map<std::string, SlurmJobInfo> SlurmClient::ParseSqueueOutput(const std::string& output) {
  std::map<std::string, SlurmJobInfo> jobs;
  for (absl::string_view line : absl::StrSplit(output, '\n', absl::SkipWhitespace())) {
    std::vector<std::string> fields = absl::StrSplit(line, '|');
    if (fields.size() < 4) continue;  // a warning line, not a job
    SlurmJobInfo info;
    info.id = std::string(absl::StripAsciiWhitespace(fields[0]));
    uint64_t number = 0;
    if (!absl::SimpleAtoi(info.id, &number)) continue;
    info.state = std::string(absl::StripAsciiWhitespace(fields[1]));
    info.reason = std::string(absl::StripAsciiWhitespace(fields[2]));
    // "N" or "N:SIGNAL" depending on the version.
    std::string code = std::string(absl::StripAsciiWhitespace(fields[3]));
    (void)absl::SimpleAtoi(code.substr(0, code.find(':')), &info.exit_code);
    if (fields.size() > 4) info.nodes = std::string(absl::StripAsciiWhitespace(fields[4]));
    jobs[info.id] = std::move(info);
  }
  return jobs;
}

absl::StatusOr<std::string> SlurmClient::Submit(const std::vector<std::string>& argv,
                                                const std::map<std::string, std::string>& env,
                                                const std::string& cwd) const {
  SubprocessOptions options;
  options.env = env;
  options.cwd = cwd;
  auto result = RunCommand(argv, kCommandTimeout, options);
  if (!result.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot run sbatch: ", result.status().message()));
  }
  if (result->status.ShellCode() != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("Slurm refused the job: ", FirstLine(result->output)));
  }
  return ParseSbatchOutput(result->output);
}

absl::StatusOr<std::map<std::string, SlurmJobInfo>> SlurmClient::Query(
    const std::vector<std::string>& ids) const {
  if (ids.empty()) return std::map<std::string, SlurmJobInfo>();
  auto result =
      RunCommand({Binary("squeue"), "--states=all", "--noheader",
                  "--jobs=" + absl::StrJoin(ids, ","), "--Format=" + std::string(kSqueueFormat)},
                 kCommandTimeout);
  if (!result.ok()) return result.status();
  if (result->status.ShellCode() != 0) {
    // All the ids are gone from Slurm's memory: not an error, just nothing.
    if (absl::StrContains(result->output, "Invalid job id")) {
      return std::map<std::string, SlurmJobInfo>();
    }
    return absl::UnavailableError(absl::StrCat("squeue failed: ", FirstLine(result->output)));
  }
  return ParseSqueueOutput(result->output);
}

absl::StatusOr<std::vector<std::string>> SlurmClient::FindByName(
    const std::string& job_name) const {
  auto result = RunCommand(
      {Binary("squeue"), "--states=all", "--noheader", "--me", "--name=" + job_name, "--format=%i"},
      kCommandTimeout);
  if (!result.ok()) return result.status();
  if (result->status.ShellCode() != 0) {
    return absl::UnavailableError(absl::StrCat("squeue failed: ", FirstLine(result->output)));
  }
  std::vector<std::string> ids;
  for (absl::string_view line : absl::StrSplit(result->output, '\n', absl::SkipWhitespace())) {
    std::string id = std::string(absl::StripAsciiWhitespace(line));
    uint64_t number = 0;
    if (absl::SimpleAtoi(id, &number)) ids.push_back(id);
  }
  return ids;
}

absl::Status SlurmClient::Cancel(const std::string& id) const {
  auto result = RunCommand({Binary("scancel"), id}, kCommandTimeout);
  if (!result.ok()) return result.status();
  if (result->status.ShellCode() != 0) {
    return absl::UnavailableError(absl::StrCat("scancel ", id, ": ", FirstLine(result->output)));
  }
  return absl::OkStatus();
}

}  // namespace mlcube
