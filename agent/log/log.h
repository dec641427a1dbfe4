#ifndef MLCUBE_REMOTE_AGENT_LOG_LOG_H_
#define MLCUBE_REMOTE_AGENT_LOG_LOG_H_

// The agent's own log: lines on its stderr (the journal, under systemd).
// Everything the agent reports about itself goes through here, never
// through a job's log (JobLog) and never with its own writes to stderr.
// Each line is one write(2), so lines of concurrent threads never mix.

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mlcube {

// Writes "mlcube-agent: MESSAGE" and a newline.
void Log(absl::string_view message);

// Logs "WHAT: MESSAGE" when `status` is an error; nothing when it is OK.
// For what the agent goes on without (a best-effort write, a clean-up).
void LogIfError(absl::string_view what, const absl::Status& status);

// Writes `line` as it is (the start-up banner), and a newline.
void LogLine(absl::string_view line);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_LOG_LOG_H_
