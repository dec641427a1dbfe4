#include "agent/log/log_output.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mlcube {

absl::Status LogOutput::Configure(absl::string_view name, absl::string_view journal_stream,
                                  const std::string& journal_socket) {
  LogFormat format = LogFormat::kText;
  if (name == "auto") {
    format = StderrIsTheJournal(journal_stream) ? LogFormat::kJournal : LogFormat::kText;
  } else {
    absl::StatusOr<LogFormat> parsed = ParseLogFormat(name);
    if (!parsed.ok()) return parsed.status();
    format = *parsed;
  }
  if (format != LogFormat::kJournal) {
    format_ = format;
    return absl::OkStatus();
  }
  UniqueFd socket_fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (journal_socket.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--log-format=journal: ", journal_socket, ": path too long for a socket"));
  }
  std::memcpy(address.sun_path, journal_socket.c_str(), journal_socket.size() + 1);
  if (socket_fd.get() < 0 || ::connect(socket_fd.get(), reinterpret_cast<const sockaddr*>(&address),
                                       sizeof(address)) != 0) {
    return absl::UnavailableError(absl::StrCat("--log-format=journal: cannot reach the journal at ",
                                               journal_socket, ": ", std::strerror(errno)));
  }
  journal_ = std::move(socket_fd);
  format_ = LogFormat::kJournal;
  return absl::OkStatus();
}

bool LogOutput::StderrIsTheJournal(absl::string_view journal_stream) {
  if (journal_stream.empty()) return false;
  std::pair<std::string, std::string> parts =
      absl::StrSplit(journal_stream, absl::MaxSplits(':', 1));
  uint64_t device = 0, inode = 0;
  struct stat st {};
  if (!absl::SimpleAtoi(parts.first, &device) || !absl::SimpleAtoi(parts.second, &inode) ||
      ::fstat(STDERR_FILENO, &st) != 0) {
    return false;
  }
  return static_cast<uint64_t>(st.st_dev) == device && static_cast<uint64_t>(st.st_ino) == inode;
}

void LogOutput::WriteToStderr(absl::string_view text) {
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(STDERR_FILENO, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    // Nowhere left to report to when stderr itself fails: the line is lost.
    if (n <= 0) return;
    written += static_cast<size_t>(n);
  }
}

void LogOutput::Write(const LogRecord& record) const {
  if (format_ == LogFormat::kJournal) {
    const std::string entry = FormatJournalEntry(record);
    if (::send(journal_.get(), entry.data(), entry.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(entry.size())) {
      return;
    }
  }
  WriteToStderr(
      FormatLogLine(format_ == LogFormat::kJson ? LogFormat::kJson : LogFormat::kText, record));
}

void LogOutput::WriteRaw(absl::string_view line) const {
  if (format_ == LogFormat::kText) {
    WriteToStderr(absl::StrCat(line, "\n"));
    return;
  }
  LogRecord record;
  record.time = absl::Now();
  record.message = std::string(line);
  Write(record);
}

}  // namespace mlcube
