#include "agent/gpus/gpu_inventory.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/subprocess/subprocess.h"
#include "common/safe_path.h"

namespace mlcube {

std::string GpuDevice::ListLine() const {
  std::string line = absl::StrCat("GPU ", index, ": ", name);
  if (!uuid.empty()) absl::StrAppend(&line, " (UUID: ", uuid, ")");
  return line;
}

absl::StatusOr<std::vector<GpuDevice>> ParseNvidiaSmiQuery(const std::string& csv) {
  std::vector<GpuDevice> devices;
  for (absl::string_view line : absl::StrSplit(csv, '\n', absl::SkipWhitespace())) {
    std::vector<std::string> fields = absl::StrSplit(line, ',');
    for (std::string& f : fields) f = std::string(absl::StripAsciiWhitespace(f));
    GpuDevice device;
    if (fields.size() != 6 || !absl::SimpleAtoi(fields[0], &device.index) || device.index < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("nvidia-smi: unexpected line '", PrintableExcerpt(line, 120), "'"));
    }
    device.uuid = fields[1];
    device.name = fields[2];
    if (!absl::SimpleAtoi(fields[3], &device.memory_mib)) device.memory_mib = 0;
    devices.push_back(std::move(device));
  }
  return devices;
}

std::vector<GpuDevice> ParseNvidiaSmiList(const std::string& text) {
  std::vector<GpuDevice> devices;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    if (!absl::ConsumePrefix(&line, "GPU ")) continue;
    const size_t colon = line.find(':');
    GpuDevice device;
    if (colon == absl::string_view::npos ||
        !absl::SimpleAtoi(line.substr(0, colon), &device.index)) {
      continue;
    }
    absl::string_view rest = absl::StripAsciiWhitespace(line.substr(colon + 1));
    const size_t uuid_at = rest.find(" (UUID: ");
    if (uuid_at != absl::string_view::npos) {
      absl::string_view uuid = rest.substr(uuid_at + 8);
      absl::ConsumeSuffix(&uuid, ")");
      device.uuid = std::string(uuid);
      rest = rest.substr(0, uuid_at);
    }
    device.name = std::string(rest);
    devices.push_back(std::move(device));
  }
  return devices;
}

namespace {

absl::StatusOr<std::vector<GpuDevice>> QueryNvidiaSmi(const std::string& binary) {
  auto query =
      RunCommand({binary, "--query-gpu=index,uuid,name,memory.total,utilization.gpu,memory.used",
                  "--format=csv,noheader,nounits"},
                 absl::Seconds(10));
  if (query.ok() && query->status.ShellCode() == 0) {
    auto parsed = ParseNvidiaSmiQuery(query->output);
    if (parsed.ok()) return parsed;
  }
  auto list = RunCommand({binary, "-L"}, absl::Seconds(10));
  if (!list.ok()) return list.status();
  if (list->status.ShellCode() != 0) {
    return absl::UnavailableError(absl::StrCat(binary, " -L exited with code ",
                                               list->status.ShellCode(), ": ",
                                               PrintableExcerpt(list->output, 200)));
  }
  return ParseNvidiaSmiList(list->output);
}

}  // namespace

absl::StatusOr<std::vector<GpuDevice>> ReadGpuInventory(const GpuConfig& config) {
  if (config.devices.has_value() && config.devices->empty()) return std::vector<GpuDevice>{};
  auto binary = FindInPath(config.nvidia_smi);
  if (!binary.ok()) {
    if (config.devices.has_value()) {
      return absl::FailedPreconditionError(
          absl::StrCat("gpus.devices: ", config.nvidia_smi, " is not installed"));
    }
    return std::vector<GpuDevice>{};
  }
  auto found = QueryNvidiaSmi(*binary);
  if (!found.ok()) {
    if (config.devices.has_value()) return found.status();
    return std::vector<GpuDevice>{};  // a driver not loaded: no usable GPUs
  }
  if (!config.devices.has_value()) return found;
  std::vector<GpuDevice> kept;
  for (int index : *config.devices) {
    auto it = std::find_if(found->begin(), found->end(),
                           [index](const GpuDevice& d) { return d.index == index; });
    if (it == found->end()) {
      return absl::FailedPreconditionError(absl::StrCat("gpus.devices: GPU ", index,
                                                        " is not on this host (nvidia-smi lists ",
                                                        found->size(), ")"));
    }
    kept.push_back(*it);
  }
  return kept;
}

}  // namespace mlcube
