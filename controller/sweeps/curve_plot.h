#ifndef MLCUBE_REMOTE_CONTROLLER_SWEEPS_CURVE_PLOT_H_
#define MLCUBE_REMOTE_CONTROLLER_SWEEPS_CURVE_PLOT_H_

// Draws curves (one per run) with gnuplot, run as a subprocess on a
// generated script and data files in a private temporary directory.
// gnuplot (Debian's gnuplot-nox) is packaged everywhere our users are, draws
// PNG (cairo), SVG and a text chart (`set terminal dumb`) from the same
// script, and keeps axes, ticks and legends out of our code; linking a
// plotting library into the CLI would add far more than a subprocess does.
// Labels and file names travel as gnuplot single-quoted strings with
// enhanced text off, so a run's values cannot inject gnuplot commands.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace mlcube {

struct Curve {
  std::string label;
  std::vector<std::pair<double, double>> points;  // (x, y), in order
};

struct PlotRequest {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<Curve> curves;
  // .png or .svg file to write; empty: a text chart is returned instead.
  std::string output;
  int text_columns = 100;
  int text_rows = 28;
};

class CurvePlot {
 public:
  // The gnuplot binary; tests may point it elsewhere.
  explicit CurvePlot(std::string gnuplot = "gnuplot");

  // Draws the request. Returns the text chart when `output` is empty, else
  // an empty string once the file is written. FAILED_PRECONDITION (with the
  // apt-get line) when gnuplot is not installed; INVALID_ARGUMENT for an
  // output that is neither .png nor .svg or a request with no points.
  absl::StatusOr<std::string> Draw(const PlotRequest& request) const;

  // The script for `request` whose curve i is in data_files[i] (exposed for
  // tests).
  static std::string Script(const PlotRequest& request, const std::vector<std::string>& data_files);

  // `text` as a gnuplot single-quoted string.
  static std::string QuoteForGnuplot(const std::string& text);

 private:
  std::string gnuplot_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SWEEPS_CURVE_PLOT_H_
