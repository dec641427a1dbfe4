#include "agent/gpus/gpu_usage_sampler.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/subprocess/subprocess.h"
#include "common/safe_path.h"

namespace mlcube {

absl::StatusOr<std::vector<GpuSample>> SampleGpus(const std::string& nvidia_smi) {
  auto result = RunCommand({nvidia_smi, "--query-gpu=index,utilization.gpu,memory.used",
                            "--format=csv,noheader,nounits"},
                           absl::Seconds(10));
  if (!result.ok()) return result.status();
  if (result->status.ShellCode() != 0) {
    return absl::UnavailableError(
        absl::StrCat(nvidia_smi, " exited with code ", result->status.ShellCode()));
  }
  std::vector<GpuSample> samples;
  for (absl::string_view line : absl::StrSplit(result->output, '\n', absl::SkipWhitespace())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ',');
    GpuSample sample;
    // "[N/A]" (no utilisation on this device) counts as 0.
    if (fields.size() != 3 ||
        !absl::SimpleAtoi(absl::StripAsciiWhitespace(fields[0]), &sample.index)) {
      return absl::InvalidArgumentError(
          absl::StrCat("nvidia-smi: unexpected line '", PrintableExcerpt(line, 120), "'"));
    }
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(fields[1]), &sample.utilization_percent)) {
      sample.utilization_percent = 0;
    }
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(fields[2]), &sample.memory_used_mib)) {
      sample.memory_used_mib = 0;
    }
    samples.push_back(sample);
  }
  return samples;
}

GpuUsageSampler::GpuUsageSampler(std::string nvidia_smi, absl::Duration interval,
                                 std::function<bool()> wanted, Sink sink)
    : nvidia_smi_(std::move(nvidia_smi)),
      interval_(interval),
      wanted_(std::move(wanted)),
      sink_(std::move(sink)),
      thread_([this] { Loop(); }) {}

GpuUsageSampler::~GpuUsageSampler() {
  stop_.Notify();
  thread_.join();
}

void GpuUsageSampler::Loop() {
  while (!stop_.WaitForNotificationWithTimeout(interval_)) {
    if (!wanted_()) continue;
    absl::StatusOr<std::vector<GpuSample>> samples = SampleGpus(nvidia_smi_);
    if (samples.ok()) sink_(*samples);
  }
}

}  // namespace mlcube
