#include "agent/runtimes/runtime_inventory.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/subprocess/subprocess.h"

namespace mlcube {

bool ParseRuntimeVersion(const std::string& output, std::string* name, std::string* version) {
  std::string first_line(absl::StripAsciiWhitespace(output.substr(0, output.find('\n'))));
  std::vector<std::string> words = absl::StrSplit(first_line, ' ', absl::SkipEmpty());
  if (words.size() < 3 || absl::AsciiStrToLower(words[1]) != "version") return false;
  const std::string flavour = absl::AsciiStrToLower(words[0]);
  if (flavour == "docker") {
    *name = "docker";
  } else if (flavour == "podman") {
    *name = "podman";
  } else if (flavour == "apptainer") {
    *name = "apptainer";
  } else if (absl::StartsWith(flavour, "singularity")) {
    *name = "singularity";
  } else {
    return false;
  }
  *version = std::string(absl::StripSuffix(words[2], ","));
  return true;
}

absl::StatusOr<RuntimeInventory> RuntimeInventory::Detect(const AgentConfig& config) {
  std::vector<DetectedRuntime> found;
  for (const char* key : {"docker", "podman", "apptainer", "singularity"}) {
    auto it = config.runtimes.find(key);
    if (it == config.runtimes.end() || !it->second.enabled) continue;
    auto binary = FindInPath(it->second.binary);
    if (!binary.ok()) continue;
    auto result = RunCommand({*binary, "--version"}, absl::Seconds(10));
    if (!result.ok() || result->status.ShellCode() != 0) continue;
    DetectedRuntime runtime;
    if (!ParseRuntimeVersion(result->output, &runtime.name, &runtime.version)) continue;
    runtime.binary = *binary;
    runtime.api_socket = it->second.api_socket;
    bool duplicate = false;
    for (const auto& r : found) duplicate |= r.name == runtime.name;
    if (!duplicate) found.push_back(runtime);
  }
  absl::StatusOr<std::vector<GpuDevice>> gpus = ReadGpuInventory(config.gpus);
  if (!gpus.ok()) return gpus.status();
  return RuntimeInventory(std::move(found), std::move(*gpus));
}

const DetectedRuntime* RuntimeInventory::Find(absl::string_view name) const {
  for (const auto& r : runtimes_) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

const DetectedRuntime* RuntimeInventory::FindSingularity() const {
  if (const DetectedRuntime* r = Find("apptainer")) return r;
  return Find("singularity");
}

}  // namespace mlcube
