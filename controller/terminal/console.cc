#include "controller/terminal/console.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace mlcube {

Console::Console(std::FILE* stream, Verbosity verbosity, bool color)
    : stream_(stream), verbosity_(verbosity), color_(color) {}

Console Console::ForStderr(Verbosity verbosity, bool no_color) {
  const bool color = ::isatty(STDERR_FILENO) == 1 && !no_color;
  return Console(stderr, verbosity, color);
}

void Console::Print(const char* color_code, absl::string_view label,
                    absl::string_view message) const {
  std::string line;
  if (color_) {
    line = absl::StrCat(color_code, "mlcube-remote:", label.empty() ? "" : " ", label, "\033[0m ",
                        message, "\n");
  } else {
    line = absl::StrCat("mlcube-remote:", label.empty() ? "" : " ", label, " ", message, "\n");
  }
  std::fwrite(line.data(), 1, line.size(), stream_);
  std::fflush(stream_);
}

void Console::Error(absl::string_view message) const { Print("\033[1;31m", "error:", message); }

void Console::Warning(absl::string_view message) const {
  if (verbosity_ == Verbosity::kQuiet) return;
  Print("\033[1;33m", "warning:", message);
}

void Console::Info(absl::string_view message) const {
  if (verbosity_ == Verbosity::kQuiet) return;
  Print("\033[1;36m", "", message);
}

void Console::Verbose(absl::string_view message) const {
  if (verbosity_ != Verbosity::kVerbose) return;
  Print("\033[2m", "", message);
}

}  // namespace mlcube
