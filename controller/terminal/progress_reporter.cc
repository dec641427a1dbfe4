#include "controller/terminal/progress_reporter.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace mlcube {

ProgressReporter::ProgressReporter(FILE* out, bool interactive, std::string label,
                                   int64_t total_files, int64_t total_bytes)
    : out_(out),
      interactive_(interactive),
      label_(std::move(label)),
      total_files_(total_files),
      total_bytes_(total_bytes) {}

ProgressReporter::~ProgressReporter() { Stop(); }

std::string ProgressReporter::HumanBytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  if (unit == 0) return absl::StrCat(bytes, " B");
  return absl::StrFormat("%.1f %s", value, units[unit]);
}

std::string ProgressReporter::Line(const std::string& label, int64_t files, int64_t total_files,
                                   int64_t bytes, int64_t total_bytes, double seconds, bool bar) {
  const double rate = seconds > 0 ? bytes / seconds : 0;
  std::string eta = "--";
  if (rate > 0 && total_bytes >= bytes) {
    eta = absl::StrFormat("%.0fs", (total_bytes - bytes) / rate);
  }
  std::string prefix = label;
  if (bar) {
    const int width = 24;
    const double frac = total_bytes > 0 ? static_cast<double>(bytes) / total_bytes : 1.0;
    const int filled = static_cast<int>(frac * width + 0.5);
    prefix =
        absl::StrCat(label, " [", std::string(filled, '#'), std::string(width - filled, '.'), "]");
  }
  return absl::StrFormat("%s %d/%d files, %s/%s, %s/s, ETA %s", prefix, files, total_files,
                         HumanBytes(bytes), HumanBytes(total_bytes),
                         HumanBytes(static_cast<int64_t>(rate)), eta);
}

void ProgressReporter::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void ProgressReporter::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void ProgressReporter::Run() {
  const auto start = std::chrono::steady_clock::now();
  const auto period = interactive_ ? std::chrono::milliseconds(200) : std::chrono::seconds(5);
  bool drew = false;
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::FromChrono(period))) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::string line =
        Line(label_, files_, total_files_, bytes_, total_bytes_, seconds, interactive_);
    if (interactive_) {
      fprintf(out_, "\r%s\033[K", line.c_str());
    } else {
      fprintf(out_, "%s\n", line.c_str());
    }
    fflush(out_);
    drew = true;
  }
  if (drew && interactive_) {
    fprintf(out_, "\r\033[K");
    fflush(out_);
  }
}

}  // namespace mlcube
