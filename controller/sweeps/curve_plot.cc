#include "controller/sweeps/curve_plot.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/directory_tree.h"
#include "common/file_util.h"

extern char** environ;

namespace mlcube {
namespace {

// A private directory for the script and data, removed on every path out.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        absl::StrCat(base != nullptr && *base ? base : "/tmp", "/mlcube-plot-XXXXXX");
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    // Discarded on purpose: a destructor has no one to tell; what is left
    // is a temporary directory.
    if (!path_.empty()) (void)RemoveTree(path_);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs `gnuplot script` with stdout and stderr in files; returns the exit
// status (-1 when it could not start, errno in *spawn_error).
int RunGnuplot(const std::string& gnuplot, const std::string& script, const std::string& out,
               const std::string& err, int* spawn_error) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::string arg0 = gnuplot;
  std::string arg1 = script;
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = -1;
  *spawn_error = posix_spawnp(&pid, gnuplot.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (*spawn_error != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string TerminalFor(const PlotRequest& request) {
  const std::string lower = absl::AsciiStrToLower(request.output);
  if (request.output.empty()) {
    return absl::StrFormat("set terminal dumb size %d,%d", request.text_columns, request.text_rows);
  }
  if (absl::EndsWith(lower, ".png")) return "set terminal pngcairo size 1000,640";
  if (absl::EndsWith(lower, ".svg")) return "set terminal svg size 1000,640 dynamic";
  return "";
}

}  // namespace

CurvePlot::CurvePlot(std::string gnuplot) : gnuplot_(std::move(gnuplot)) {}

std::string CurvePlot::QuoteForGnuplot(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "''";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

std::string CurvePlot::Script(const PlotRequest& request,
                              const std::vector<std::string>& data_files) {
  std::string script = absl::StrCat(TerminalFor(request), "\nset termoption noenhanced\n");
  if (!request.output.empty()) {
    absl::StrAppend(&script, "set output ", QuoteForGnuplot(request.output), "\n");
  }
  absl::StrAppend(&script, "set title ", QuoteForGnuplot(request.title), "\n", "set xlabel ",
                  QuoteForGnuplot(request.x_label), "\n", "set ylabel ",
                  QuoteForGnuplot(request.y_label), "\n", "set key outside right top\nset grid\n");
  std::string plot = "plot";
  for (size_t i = 0; i < data_files.size() && i < request.curves.size(); ++i) {
    absl::StrAppend(&plot, i == 0 ? " " : ", \\\n     ", QuoteForGnuplot(data_files[i]),
                    " using 1:2 with linespoints title ", QuoteForGnuplot(request.curves[i].label));
  }
  return absl::StrCat(script, plot, "\n");
}

absl::StatusOr<std::string> CurvePlot::Draw(const PlotRequest& request) const {
  if (TerminalFor(request).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("-o ", request.output, ": expected a .png or .svg file name"));
  }
  std::vector<Curve> curves;
  for (const Curve& curve : request.curves) {
    if (!curve.points.empty()) curves.push_back(curve);
  }
  if (curves.empty()) return absl::InvalidArgumentError("no points to plot");
  ScratchDir scratch;
  if (scratch.path().empty()) return absl::InternalError("plot: cannot create a temporary dir");
  std::vector<std::string> files;
  for (size_t i = 0; i < curves.size(); ++i) {
    std::string data;
    for (const auto& [x, y] : curves[i].points)
      absl::StrAppend(&data, absl::StrFormat("%.17g %.17g\n", x, y));
    files.push_back(absl::StrCat(scratch.path(), "/curve", i, ".dat"));
    if (absl::Status s = WriteFileAtomically(files.back(), data, 0600); !s.ok()) return s;
  }
  PlotRequest drawn = request;
  drawn.curves = curves;
  const std::string script = scratch.path() + "/plot.gp";
  if (absl::Status s = WriteFileAtomically(script, Script(drawn, files), 0600); !s.ok()) return s;
  int spawn_error = 0;
  const int status = RunGnuplot(gnuplot_, script, scratch.path() + "/out.txt",
                                scratch.path() + "/err.txt", &spawn_error);
  // 127: the child could not exec it (how posix_spawn reports that where it
  // forks, e.g. under valgrind).
  if (status < 0 || status == 127) {
    return absl::FailedPreconditionError(absl::StrCat(
        "plot: cannot run ", gnuplot_, " (", std::strerror(status < 0 ? spawn_error : ENOENT),
        "); install it with: apt-get install gnuplot-nox"));
  }
  if (status != 0) {
    absl::StatusOr<std::string> err = ReadSmallFile(scratch.path() + "/err.txt");
    std::string message = err.ok() ? std::string(absl::StripAsciiWhitespace(*err)) : "";
    return absl::InternalError(
        absl::StrCat("plot: gnuplot exited with ", status, ": ", message.substr(0, 400)));
  }
  if (!request.output.empty()) return std::string();
  absl::StatusOr<std::string> text = ReadSmallFile(scratch.path() + "/out.txt");
  if (!text.ok()) return text.status();
  return *text;
}

}  // namespace mlcube
