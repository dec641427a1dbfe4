#ifndef MLCUBE_REMOTE_CONTROLLER_TERMINAL_CONSOLE_H_
#define MLCUBE_REMOTE_CONTROLLER_TERMINAL_CONSOLE_H_

// The controller's own messages, kept apart from a task's output: they go to
// stderr with an "mlcube-remote:" prefix, coloured only on a terminal and
// never when NO_COLOR is set.

#include <cstdio>
#include <string>

#include "absl/strings/string_view.h"

namespace mlcube {

enum class Verbosity { kQuiet, kNormal, kVerbose };

class Console {
 public:
  Console(std::FILE* stream, Verbosity verbosity, bool color);

  // Colour when stderr is a terminal and not `no_color` (NO_COLOR set and
  // not empty, read by the entry point).
  static Console ForStderr(Verbosity verbosity, bool no_color);

  void Error(absl::string_view message) const;
  void Warning(absl::string_view message) const;
  void Info(absl::string_view message) const;     // hidden by -q
  void Verbose(absl::string_view message) const;  // shown with -v

  bool color() const { return color_; }
  Verbosity verbosity() const { return verbosity_; }

 private:
  void Print(const char* color_code, absl::string_view label, absl::string_view message) const;

  std::FILE* stream_;
  Verbosity verbosity_;
  bool color_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_TERMINAL_CONSOLE_H_
