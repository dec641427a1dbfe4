#ifndef MLCUBE_REMOTE_AGENT_LOG_LOG_OUTPUT_H_
#define MLCUBE_REMOTE_AGENT_LOG_LOG_OUTPUT_H_

// Where the agent's log records go: its stderr (text or JSON lines, one
// write(2) each so concurrent lines never mix) or the systemd journal's
// native socket. A record the journal refuses (journald restarting, a
// record over its datagram size) goes to stderr as a text line instead.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "agent/log/log_format.h"
#include "common/unique_fd.h"

namespace mlcube {

class LogOutput {
 public:
  // Text lines on stderr.
  LogOutput() = default;

  // `name` is auto, text, json or journal. auto picks journal when stderr
  // is the journal's stream (`journal_stream`, systemd's $JOURNAL_STREAM:
  // its device and inode), text otherwise. journal needs the socket at
  // `journal_socket`. On an error the output stays as it was.
  absl::Status Configure(absl::string_view name, absl::string_view journal_stream,
                         const std::string& journal_socket);

  LogFormat format() const { return format_; }

  void Write(const LogRecord& record) const;
  // `line` as it is, with a newline; for kJson a record with `line` as msg.
  void WriteRaw(absl::string_view line) const;

 private:
  static bool StderrIsTheJournal(absl::string_view journal_stream);
  static void WriteToStderr(absl::string_view text);

  LogFormat format_ = LogFormat::kText;
  UniqueFd journal_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_LOG_LOG_OUTPUT_H_
