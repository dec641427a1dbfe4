#include "agent/log/log.h"

#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/strings/str_cat.h"

namespace mlcube {

void LogLine(absl::string_view line) {
  const std::string text = absl::StrCat(line, "\n");
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(STDERR_FILENO, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    // Nowhere left to report to when stderr itself fails: the line is lost.
    if (n <= 0) return;
    written += static_cast<size_t>(n);
  }
}

void Log(absl::string_view message) { LogLine(absl::StrCat("mlcube-agent: ", message)); }

void LogIfError(absl::string_view what, const absl::Status& status) {
  if (!status.ok()) Log(absl::StrCat(what, ": ", status.message()));
}

}  // namespace mlcube
