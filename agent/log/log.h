#ifndef MLCUBE_REMOTE_AGENT_LOG_LOG_H_
#define MLCUBE_REMOTE_AGENT_LOG_LOG_H_

// The agent's own log: records on its stderr or in the systemd journal, in
// the format `mlcube-agent serve --log-format=` names (log_format.h).
// Everything the agent reports about itself goes through here, never
// through a job's log (JobLog) and never with its own writes to stderr.
// Each record carries the request id, identity and job id of the LogScope
// in force on the writing thread, where there is one.

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "agent/log/log_fields.h"
#include "agent/log/log_format.h"

namespace mlcube {

// Chooses the format (auto, text, json, journal; see LogOutput::Configure);
// `journal_stream` is $JOURNAL_STREAM ("" when unset). Called once by main
// before any other thread starts; text lines on stderr until then.
absl::Status ConfigureAgentLog(absl::string_view format, absl::string_view journal_stream);

// An informational record: MESSAGE.
void Log(absl::string_view message);

// A record of something that went wrong and that the agent goes on without.
void LogWarning(absl::string_view message);

// A record with `fields` over those of the thread's scope.
void LogWith(const LogFields& fields, LogLevel level, absl::string_view message);

// Logs a warning "WHAT: MESSAGE" when `status` is an error; nothing when it
// is OK. For what the agent goes on without (a best-effort write, a clean-up).
void LogIfError(absl::string_view what, const absl::Status& status);

// Writes `line` as it is (the start-up banner), and a newline; in the JSON
// and journal formats, a record with `line` as its message.
void LogLine(absl::string_view line);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_LOG_LOG_H_
