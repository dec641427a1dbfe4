// Fuzzes RunArgumentPolicy against an independent reference: a plain
// pflag parse with the runtimes' full option lists (arity from their
// documentation), which must find no refused option, no positional and no
// option unknown to the runtime in any vector the policy accepts.
// Input: byte 0 picks the runtime (even: docker run, odd: apptainer run)
// and the mode (bit 1: the bytes after it are words separated by '\n';
// otherwise they drive a generator that puts one refused option, in a
// random spelling, between complete allowed options, which must be refused).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "agent/runtimes/run_argument_policy.h"

namespace {

using mlcube::HostAccessPolicy;
using mlcube::RunArgumentPolicy;
using mlcube::RuntimeFamily;
using mlcube::RuntimeStep;

struct Reference {
  std::set<std::string> value_options;  // "--name" and "-x" spellings
  std::set<std::string> bool_options;
  std::set<std::string> refused;  // refused whatever the value
};

const Reference& DockerReference() {
  static const Reference* r = new Reference{
      {"--add-host",
       "--annotation",
       "--attach",
       "-a",
       "--blkio-weight",
       "--blkio-weight-device",
       "--cap-add",
       "--cap-drop",
       "--cgroup-parent",
       "--cgroupns",
       "--cidfile",
       "--cpu-period",
       "--cpu-quota",
       "--cpu-rt-period",
       "--cpu-rt-runtime",
       "--cpu-shares",
       "-c",
       "--cpus",
       "--cpuset-cpus",
       "--cpuset-mems",
       "--detach-keys",
       "--device",
       "--device-cgroup-rule",
       "--device-read-bps",
       "--device-read-iops",
       "--device-write-bps",
       "--device-write-iops",
       "--dns",
       "--dns-option",
       "--dns-search",
       "--domainname",
       "--entrypoint",
       "--env",
       "-e",
       "--env-file",
       "--expose",
       "--gpus",
       "--group-add",
       "--health-cmd",
       "--health-interval",
       "--health-retries",
       "--health-timeout",
       "--hostname",
       "-h",
       "--ip",
       "--ip6",
       "--ipc",
       "--isolation",
       "--kernel-memory",
       "--label",
       "-l",
       "--label-file",
       "--link",
       "--log-driver",
       "--log-opt",
       "--mac-address",
       "--memory",
       "-m",
       "--memory-reservation",
       "--memory-swap",
       "--memory-swappiness",
       "--mount",
       "--name",
       "--network",
       "--net",
       "--network-alias",
       "--oom-score-adj",
       "--pid",
       "--pids-limit",
       "--platform",
       "--publish",
       "-p",
       "--pull",
       "--restart",
       "--runtime",
       "--security-opt",
       "--shm-size",
       "--stop-signal",
       "--stop-timeout",
       "--storage-opt",
       "--sysctl",
       "--tmpfs",
       "--ulimit",
       "--user",
       "-u",
       "--userns",
       "--uts",
       "--volume",
       "-v",
       "--volume-driver",
       "--volumes-from",
       "--workdir",
       "-w"},
      {"--detach", "-d", "--disable-content-trust", "--init", "--interactive", "-i",
       "--no-healthcheck", "--oom-kill-disable", "--privileged", "--publish-all", "-P", "--quiet",
       "-q", "--read-only", "--rm", "--sig-proxy", "--tty", "-t", "--help"},
      {"--volume",
       "-v",
       "--mount",
       "--volumes-from",
       "--volume-driver",
       "--device",
       "--device-cgroup-rule",
       "--cap-add",
       "--privileged",
       "--user",
       "-u",
       "--userns",
       "--uts",
       "--pid",
       "--env-file",
       "--cidfile",
       "--security-opt",
       "--group-add",
       "--publish",
       "-p",
       "--publish-all",
       "-P",
       "--name",
       "--label",
       "-l",
       "--detach",
       "-d",
       "--cgroup-parent",
       "--sysctl",
       "--label-file"}};
  return *r;
}

const Reference& ApptainerReference() {
  static const Reference* r = new Reference{
      {"--add-caps",
       "--app",
       "--apply-cgroups",
       "--authfile",
       "--bind",
       "-B",
       "--blkio-weight",
       "--blkio-weight-device",
       "--cpu-shares",
       "--cpus",
       "--cpuset-cpus",
       "--cpuset-mems",
       "--dns",
       "--docker-host",
       "--drop-caps",
       "--env",
       "--env-file",
       "--fusemount",
       "--home",
       "-H",
       "--hostname",
       "--memory",
       "--memory-reservation",
       "--memory-swap",
       "--mount",
       "--network",
       "--network-args",
       "--no-mount",
       "--overlay",
       "-o",
       "--pids-limit",
       "--pwd",
       "--scratch",
       "-S",
       "--security",
       "--workdir",
       "-W"},
      {"--allow-setuid",
       "--boot",
       "--cleanenv",
       "-e",
       "--compat",
       "--contain",
       "-c",
       "--containall",
       "-C",
       "--disable-cache",
       "--fakeroot",
       "-f",
       "--ipc",
       "-i",
       "--keep-privs",
       "--net",
       "-n",
       "--no-eval",
       "--no-home",
       "--no-init",
       "--no-privs",
       "--nv",
       "--nvccli",
       "--pid",
       "-p",
       "--rocm",
       "--uts",
       "--userns",
       "-u",
       "--writable",
       "-w",
       "--writable-tmpfs"},
      {"--add-caps", "--allow-setuid", "--apply-cgroups", "--authfile", "--bind",
       "-B",         "--boot",         "--docker-host",   "--env-file", "--fakeroot",
       "-f",         "--fusemount",    "--home",          "-H",         "--keep-privs",
       "--mount",    "--network-args", "--overlay",       "-o",         "--scratch",
       "-S",         "--security",     "--workdir",       "-W",         "--writable",
       "-w"}};
  return *r;
}

// Whether a value makes an option refused on an agent that grants nothing.
bool RefusedValue(const std::string& name, const std::string& value, bool docker) {
  if (name == "--env" || (docker && name == "-e")) {
    // NAME=VALUE, or NAME alone: a variable copied from the caller.
    if (value.empty() || value[0] == '=') return true;
    if (value.find('=') != std::string::npos) return false;
    if (value[0] >= '0' && value[0] <= '9') return true;
    for (char c : value) {
      const bool word =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
      if (!word) return true;
    }
    return false;
  }
  if (!docker) return name == "--network" && value != "none";
  if (name == "--network" || name == "--net") {
    return value != "none" && value != "bridge" && value != "default";
  }
  if (name == "--ipc") return value != "private" && value != "shareable" && value != "none";
  if (name == "--cgroupns") return value != "private";
  if (name == "--runtime") return value != "nvidia";
  return false;
}

// A plain pflag walk; aborts on anything the policy should have refused.
void CheckAccepted(const std::vector<std::string>& args, const Reference& ref, bool docker) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-' || arg == "--") abort();  // positional or "--"
    std::vector<std::pair<std::string, std::string>> options;     // name, value
    if (arg[1] == '-') {
      const size_t eq = arg.find('=');
      const std::string name = arg.substr(0, eq);
      if (ref.value_options.count(name) > 0) {
        if (eq == std::string::npos && i + 1 >= args.size()) abort();
        options.push_back({name, eq == std::string::npos ? args[++i] : arg.substr(eq + 1)});
      } else if (ref.bool_options.count(name) > 0) {
        options.push_back({name, "true"});
      } else {
        abort();  // unknown to the runtime
      }
    } else {
      for (size_t c = 1; c < arg.size(); ++c) {
        const std::string name = std::string("-") + arg[c];
        const bool has_eq = c + 1 < arg.size() && arg[c + 1] == '=';
        if (ref.bool_options.count(name) > 0) {
          options.push_back({name, "true"});
          if (has_eq) break;
        } else if (ref.value_options.count(name) > 0) {
          std::string value = arg.substr(c + (has_eq ? 2 : 1));
          if (c + 1 == arg.size()) {
            if (i + 1 >= args.size()) abort();
            value = args[++i];
          }
          options.push_back({name, value});
          break;
        } else {
          abort();
        }
      }
    }
    for (const auto& [name, value] : options) {
      if (ref.refused.count(name) > 0 || RefusedValue(name, value, docker)) abort();
    }
  }
}

const std::vector<std::vector<std::string>>& AllowedUnits(bool docker) {
  static const auto* docker_units =
      new std::vector<std::vector<std::string>>{{"--shm-size", "1g"},
                                                {"--shm-size=1g"},
                                                {"--gpus", "all"},
                                                {"-it"},
                                                {"-e", "A=1"},
                                                {"-eA=1"},
                                                {"--rm"},
                                                {"--ipc=private"},
                                                {"-m2g"},
                                                {"--init"},
                                                {"-t"},
                                                {"--network", "none"}};
  static const auto* apptainer_units = new std::vector<std::vector<std::string>>{
      {"--nv"}, {"-e"}, {"-ec"}, {"--env", "A=1"}, {"--pwd=/w"}, {"--no-home"}, {"-p"}, {"-C"}};
  return docker ? *docker_units : *apptainer_units;
}

// A refused option in one of pflag's spellings, with `value`.
std::vector<std::string> RefusedUnit(bool docker, uint8_t pick, const std::string& value) {
  static const char* docker_long[] = {"volume",   "mount",   "device",       "cap-add",     "user",
                                      "env-file", "cidfile", "security-opt", "volumes-from"};
  static const char* docker_short = "vuplP";
  static const char* apptainer_long[] = {"bind",     "mount",    "home",     "overlay",  "workdir",
                                         "add-caps", "security", "env-file", "fusemount"};
  static const char* apptainer_short = "BHoSWwf";
  const std::string shorts = docker ? docker_short : apptainer_short;
  const char* const* longs = docker ? docker_long : apptainer_long;
  const std::string lng = longs[pick % 9];
  const std::string sht(1, shorts[pick % shorts.size()]);
  const std::string prefix = docker ? "-it" : "-ec";  // booleans before it
  switch ((pick / 16) % 6) {
    case 0:
      return {"--" + lng + "=" + value};
    case 1:
      return {"--" + lng, value.empty() ? "x" : value};
    case 2:
      return {"-" + sht + value};
    case 3:
      return {"-" + sht + "=" + value};
    case 4:
      return {prefix + sht + value};
    default:
      return {"-" + sht, value.empty() ? "x" : value};
  }
}

// Complete allowed options around one refused option: always refused.
void Generate(const uint8_t* data, size_t size, bool docker, const RunArgumentPolicy& policy) {
  if (size < 2) return;
  const auto& units = AllowedUnits(docker);
  const size_t refused_at = data[0] % 4;
  std::vector<std::string> args;
  bool placed = false;
  size_t i = 1;
  for (size_t n = 0; n <= refused_at && i < size; ++n) {
    if (n < refused_at) {
      for (const std::string& a : units[data[i++] % units.size()]) args.push_back(a);
      continue;
    }
    const uint8_t pick = data[i++];
    const size_t len = i < size ? data[i++] % 16 : 0;
    const std::string value(reinterpret_cast<const char*>(data + i), std::min(len, size - i));
    i += value.size();
    for (std::string& a : RefusedUnit(docker, pick, value)) args.push_back(std::move(a));
    placed = true;
  }
  while (i < size) {
    for (const std::string& a : units[data[i++] % units.size()]) args.push_back(a);
  }
  if (placed && policy.Check(args, "fuzz").ok()) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool docker = (data[0] & 1) == 0;
  const RunArgumentPolicy policy(docker ? RuntimeFamily::kDocker : RuntimeFamily::kApptainer,
                                 RuntimeStep::kRun, HostAccessPolicy{});
  if ((data[0] & 2) == 0) {
    Generate(data + 1, size - 1, docker, policy);
    return 0;
  }
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::vector<std::string> args = absl::StrSplit(text, '\n');
  if (policy.Check(args, "fuzz").ok()) {
    CheckAccepted(args, docker ? DockerReference() : ApptainerReference(), docker);
  }
  return 0;
}
