#include "agent/schedulers/slurm_client.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/subprocess/subprocess.h"

namespace mlcube {
namespace {

constexpr absl::Duration kCommandTimeout = absl::Seconds(60);
// squeue's exit_code: "CODE:SIGNAL" in some versions; in 22.05 the raw wait
// status (143 << 8 = 36608 for "exit 143", 9 for SIGKILL). As a shell
// reports it: the code, or 128 + the signal. Not a number: 0, which the
// follower reads as "not known".
int ExitCodeOfSqueue(const std::string& field) {
  int value = 0;
  const size_t colon = field.find(':');
  if (colon != std::string::npos) {
    int signal = 0;
    if (!absl::SimpleAtoi(field.substr(0, colon), &value)) return 0;
    if (value == 0 && absl::SimpleAtoi(field.substr(colon + 1), &signal) && signal > 0) {
      return 128 + signal;
    }
    return value;
  }
  if (!absl::SimpleAtoi(field, &value) || value < 0) return 0;
  const int signal = value & 0x7f;
  return signal != 0 ? 128 + signal : (value >> 8) & 0xff;
}

// Fields separated by '|' (a character no field of these contains).
constexpr char kSqueueFormat[] = "JobArrayID:|,State:|,Reason:|,exit_code:|,NodeList:|";

std::string FirstLine(const std::string& text) {
  std::string line = std::string(absl::StripAsciiWhitespace(text));
  const size_t newline = line.find('\n');
  if (newline != std::string::npos) line.resize(newline);
  return line;
}

// "4-9%2" or "4,6-7" -> 4 5 6 7 8 9; empty when malformed (or absurdly long).
std::vector<int> ExpandArrayIndices(absl::string_view spec) {
  spec = spec.substr(0, spec.find('%'));
  std::vector<int> indices;
  for (absl::string_view part : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    std::vector<absl::string_view> ends = absl::StrSplit(part, absl::MaxSplits('-', 1));
    int from = 0, to = 0;
    if (!absl::SimpleAtoi(ends[0], &from) || from < 0) return {};
    to = from;
    if (ends.size() == 2 && (!absl::SimpleAtoi(ends[1], &to) || to < from)) return {};
    if (to - from > 100000 || indices.size() > 100000) return {};
    for (int i = from; i <= to; ++i) indices.push_back(i);
  }
  return indices;
}

}  // namespace

bool SlurmClient::IsJobId(absl::string_view id) {
  const size_t underscore = id.find('_');
  uint64_t number = 0;
  if (!absl::SimpleAtoi(id.substr(0, underscore), &number)) return false;
  return underscore == absl::string_view::npos ||
         absl::SimpleAtoi(id.substr(underscore + 1), &number);
}

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
    std::vector<int> pending_elements;  // "12_[4-9%2]"
    const size_t bracket = info.id.find("_[");
    if (bracket != std::string::npos && absl::EndsWith(info.id, "]")) {
      pending_elements = ExpandArrayIndices(
          absl::string_view(info.id).substr(bracket + 2, info.id.size() - bracket - 3));
      info.id.resize(bracket);
      if (pending_elements.empty()) continue;
    }
    if (!IsJobId(info.id)) continue;
    info.state = std::string(absl::StripAsciiWhitespace(fields[1]));
    info.reason = std::string(absl::StripAsciiWhitespace(fields[2]));
    info.exit_code = ExitCodeOfSqueue(std::string(absl::StripAsciiWhitespace(fields[3])));
    if (fields.size() > 4) info.nodes = std::string(absl::StripAsciiWhitespace(fields[4]));
    for (int index : pending_elements) {
      SlurmJobInfo element = info;
      element.id = absl::StrCat(info.id, "_", index);
      jobs[element.id] = std::move(element);
    }
    if (pending_elements.empty()) jobs[info.id] = std::move(info);
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
      RunCommand({Binary("squeue"), "--states=all", "--noheader", "--array",
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
    // An array's pending elements: "12_[4-9%2]" is job 12.
    if (absl::EndsWith(id, "]") && id.find("_[") != std::string::npos) id.resize(id.find("_["));
    if (IsJobId(id)) ids.push_back(id);
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
