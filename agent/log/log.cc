#include "agent/log/log.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/log/log_output.h"

namespace mlcube {
namespace {

constexpr char kJournalSocket[] = "/run/systemd/journal/socket";

// The one output of the process: configured by main before threads start,
// read-only afterwards; never destroyed, so threads that log during exit
// still find it.
LogOutput& Output() {
  static LogOutput* const output = new LogOutput();
  return *output;
}

}  // namespace

absl::Status ConfigureAgentLog(absl::string_view format, absl::string_view journal_stream) {
  return Output().Configure(format, journal_stream, kJournalSocket);
}

void LogWith(const LogFields& fields, LogLevel level, absl::string_view message) {
  LogRecord record;
  record.time = absl::Now();
  record.level = level;
  record.message = std::string(message);
  record.fields = fields.Over(LogScope::Current());
  Output().Write(record);
}

void Log(absl::string_view message) { LogWith(LogFields{}, LogLevel::kInfo, message); }

void LogWarning(absl::string_view message) { LogWith(LogFields{}, LogLevel::kWarning, message); }

void LogIfError(absl::string_view what, const absl::Status& status) {
  if (!status.ok()) LogWarning(absl::StrCat(what, ": ", status.message()));
}

void LogLine(absl::string_view line) { Output().WriteRaw(line); }

}  // namespace mlcube
