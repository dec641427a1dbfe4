#ifndef MLCUBE_REMOTE_AGENT_LOG_LOG_FORMAT_H_
#define MLCUBE_REMOTE_AGENT_LOG_LOG_FORMAT_H_

// How one record of the agent's log is written, in each format the agent
// offers (`mlcube-agent serve --log-format=`):
//   text     "mlcube-agent: MESSAGE [job=ID identity=NAME request=ID]", for
//            people; control characters in the message are escaped, so a
//            record is always one line.
//   json     one object per line with the keys of Go's log/slog JSON
//            handler (time, level, msg) plus request_id, identity, job_id
//            where set, for log shippers (Loki, Elasticsearch, jq).
//   journal  a datagram of systemd's native journal protocol: MESSAGE,
//            PRIORITY, SYSLOG_IDENTIFIER=mlcube-agent and MLCUBE_REQUEST_ID,
//            MLCUBE_IDENTITY, MLCUBE_JOB_ID, so `journalctl
//            MLCUBE_JOB_ID=...` finds a job's lines.
// These are pure functions; LogOutput writes what they make.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/log/log_fields.h"

namespace mlcube {

enum class LogLevel { kInfo, kWarning, kError };
enum class LogFormat { kText, kJson, kJournal };

// "text", "json" or "journal"; "auto" is resolved by the caller. An error
// names the flag and the accepted values.
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name);

struct LogRecord {
  absl::Time time;
  LogLevel level = LogLevel::kInfo;
  std::string message;
  LogFields fields;
};

// The record as one line in `format` (kText or kJson), newline included.
std::string FormatLogLine(LogFormat format, const LogRecord& record);

// The record as one datagram of the journal's native protocol.
std::string FormatJournalEntry(const LogRecord& record);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_LOG_LOG_FORMAT_H_
