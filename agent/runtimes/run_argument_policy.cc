#include "agent/runtimes/run_argument_policy.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/runtimes/mount_spec.h"

namespace mlcube {
namespace {

// What the policy does with an option's occurrence.
enum Rule {
  kAllow,             // any value
  kRefuse,            // always refused, for `why`
  kEnv,               // NAME=VALUE; NAME alone copies the caller's (runs only)
  kIpc,               // private, shareable, none; host if the admin allows
  kDockerNetwork,     // none, bridge, default; host if the admin allows
  kPid,               // host if the admin allows
  kCgroupns,          // private
  kRuntime,           // nvidia
  kPublish,           // if the admin allows published ports
  kDockerBind,        // SRC:DST[:ro|rw] below an admin bind root
  kApptainerBind,     // SRC[:DST[:ro|rw]][,...] below an admin bind root
  kApptainerNetwork,  // none
};

struct PolicyOption {
  OptionSpec spec;
  Rule rule;
  const char* why;  // for kRefuse
};

constexpr char kMountsHost[] = "mounts a host path into the container";
constexpr char kDevice[] = "gives the container a host device";
constexpr char kHostFile[] = "makes the runtime read or write a file on the host";
constexpr char kPrivilege[] = "gives the container privileges the agent does not grant";
constexpr char kUser[] = "chooses the user the task runs as; the agent chooses it";
constexpr char kAgentOwns[] = "is set by the agent itself";

const std::vector<PolicyOption>& DockerRunOptions() {
  static const auto* options = new std::vector<PolicyOption>{
      {{"shm-size", 0, true}, kAllow, nullptr},
      {{"gpus", 0, true}, kAllow, nullptr},
      {{"ulimit", 0, true}, kAllow, nullptr},
      {{"memory", 'm', true}, kAllow, nullptr},
      {{"memory-swap", 0, true}, kAllow, nullptr},
      {{"memory-reservation", 0, true}, kAllow, nullptr},
      {{"cpus", 0, true}, kAllow, nullptr},
      {{"cpuset-cpus", 0, true}, kAllow, nullptr},
      {{"cpuset-mems", 0, true}, kAllow, nullptr},
      {{"cpu-shares", 0, true}, kAllow, nullptr},
      {{"pids-limit", 0, true}, kAllow, nullptr},
      {{"entrypoint", 0, true}, kAllow, nullptr},
      {{"workdir", 'w', true}, kAllow, nullptr},
      {{"tmpfs", 0, true}, kAllow, nullptr},
      {{"cap-drop", 0, true}, kAllow, nullptr},
      {{"tty", 't', false}, kAllow, nullptr},
      {{"interactive", 'i', false}, kAllow, nullptr},
      {{"init", 0, false}, kAllow, nullptr},
      {{"rm", 0, false}, kAllow, nullptr},
      {{"read-only", 0, false}, kAllow, nullptr},
      {{"env", 'e', true}, kEnv, nullptr},
      {{"ipc", 0, true}, kIpc, nullptr},
      {{"network", 0, true}, kDockerNetwork, nullptr},
      {{"net", 0, true}, kDockerNetwork, nullptr},
      {{"pid", 0, true}, kPid, nullptr},
      {{"cgroupns", 0, true}, kCgroupns, nullptr},
      {{"runtime", 0, true}, kRuntime, nullptr},
      {{"publish", 'p', true}, kPublish, nullptr},
      {{"publish-all", 'P', false}, kPublish, nullptr},
      {{"volume", 'v', true}, kDockerBind, nullptr},
      {{"mount", 0, true}, kRefuse, kMountsHost},
      {{"volumes-from", 0, true}, kRefuse, "mounts another container's volumes"},
      {{"volume-driver", 0, true}, kRefuse, kMountsHost},
      {{"device", 0, true}, kRefuse, kDevice},
      {{"device-cgroup-rule", 0, true}, kRefuse, kDevice},
      {{"device-read-bps", 0, true}, kRefuse, kDevice},
      {{"device-read-iops", 0, true}, kRefuse, kDevice},
      {{"device-write-bps", 0, true}, kRefuse, kDevice},
      {{"device-write-iops", 0, true}, kRefuse, kDevice},
      {{"privileged", 0, false}, kRefuse, kPrivilege},
      {{"cap-add", 0, true}, kRefuse, kPrivilege},
      {{"security-opt", 0, true}, kRefuse, kPrivilege},
      {{"sysctl", 0, true}, kRefuse, kPrivilege},
      {{"oom-score-adj", 0, true}, kRefuse, kPrivilege},
      {{"oom-kill-disable", 0, false}, kRefuse, kPrivilege},
      {{"user", 'u', true}, kRefuse, kUser},
      {{"group-add", 0, true}, kRefuse, kUser},
      {{"userns", 0, true}, kRefuse, "changes the container's user namespace"},
      {{"uts", 0, true}, kRefuse, "shares the host's UTS namespace"},
      {{"env-file", 0, true}, kRefuse, kHostFile},
      {{"label-file", 0, true}, kRefuse, kHostFile},
      {{"cidfile", 0, true}, kRefuse, kHostFile},
      {{"name", 0, true}, kRefuse, kAgentOwns},
      {{"label", 'l', true}, kRefuse, kAgentOwns},
      {{"detach", 'd', false}, kRefuse, kAgentOwns},
      {{"cgroup-parent", 0, true}, kRefuse, kAgentOwns},
      {{"restart", 0, true}, kRefuse, kAgentOwns},
  };
  return *options;
}

const std::vector<PolicyOption>& DockerBuildOptions() {
  static const auto* options = new std::vector<PolicyOption>{
      {{"build-arg", 0, true}, kEnv, nullptr},
      {{"target", 0, true}, kAllow, nullptr},
      {{"no-cache", 0, false}, kAllow, nullptr},
      {{"pull", 0, false}, kAllow, nullptr},
      {{"quiet", 'q', false}, kAllow, nullptr},
      {{"progress", 0, true}, kAllow, nullptr},
      {{"platform", 0, true}, kAllow, nullptr},
      {{"shm-size", 0, true}, kAllow, nullptr},
      {{"ulimit", 0, true}, kAllow, nullptr},
      {{"memory", 'm', true}, kAllow, nullptr},
      {{"memory-swap", 0, true}, kAllow, nullptr},
      {{"cpu-shares", 0, true}, kAllow, nullptr},
      {{"cpuset-cpus", 0, true}, kAllow, nullptr},
      {{"network", 0, true}, kDockerNetwork, nullptr},
      {{"file", 'f', true}, kRefuse, "names the build file; docker.build_file does that"},
      {{"tag", 't', true}, kRefuse, "names the image; the agent tags builds per identity"},
      {{"output", 'o', true}, kRefuse, kHostFile},
      {{"iidfile", 0, true}, kRefuse, kHostFile},
      {{"metadata-file", 0, true}, kRefuse, kHostFile},
      {{"cache-from", 0, true}, kRefuse, kHostFile},
      {{"cache-to", 0, true}, kRefuse, kHostFile},
      {{"secret", 0, true}, kRefuse, kHostFile},
      {{"ssh", 0, true}, kRefuse, "hands the build an SSH agent or key of the host"},
      {{"build-context", 0, true}, kRefuse, "adds host directories to the build"},
      {{"allow", 0, true}, kRefuse, kPrivilege},
      {{"security-opt", 0, true}, kRefuse, kPrivilege},
  };
  return *options;
}

const std::vector<PolicyOption>& ApptainerRunOptions() {
  static const auto* options = new std::vector<PolicyOption>{
      {{"nv", 0, false}, kAllow, nullptr},
      {{"nvccli", 0, false}, kAllow, nullptr},
      {{"rocm", 0, false}, kAllow, nullptr},
      {{"cleanenv", 'e', false}, kAllow, nullptr},
      {{"contain", 'c', false}, kAllow, nullptr},
      {{"containall", 'C', false}, kAllow, nullptr},
      {{"compat", 0, false}, kAllow, nullptr},
      {{"writable-tmpfs", 0, false}, kAllow, nullptr},
      {{"no-home", 0, false}, kAllow, nullptr},
      {{"pid", 'p', false}, kAllow, nullptr},
      {{"ipc", 'i', false}, kAllow, nullptr},
      {{"uts", 0, false}, kAllow, nullptr},
      {{"userns", 'u', false}, kAllow, nullptr},
      {{"no-privs", 0, false}, kAllow, nullptr},
      {{"no-init", 0, false}, kAllow, nullptr},
      {{"no-eval", 0, false}, kAllow, nullptr},
      {{"net", 'n', false}, kAllow, nullptr},
      {{"pwd", 0, true}, kAllow, nullptr},
      {{"hostname", 0, true}, kAllow, nullptr},
      {{"drop-caps", 0, true}, kAllow, nullptr},
      {{"app", 0, true}, kAllow, nullptr},
      {{"memory", 0, true}, kAllow, nullptr},
      {{"memory-reservation", 0, true}, kAllow, nullptr},
      {{"memory-swap", 0, true}, kAllow, nullptr},
      {{"cpus", 0, true}, kAllow, nullptr},
      {{"cpuset-cpus", 0, true}, kAllow, nullptr},
      {{"cpuset-mems", 0, true}, kAllow, nullptr},
      {{"cpu-shares", 0, true}, kAllow, nullptr},
      {{"pids-limit", 0, true}, kAllow, nullptr},
      {{"env", 0, true}, kEnv, nullptr},
      {{"network", 0, true}, kApptainerNetwork, nullptr},
      {{"bind", 'B', true}, kApptainerBind, nullptr},
      {{"mount", 0, true}, kRefuse, kMountsHost},
      {{"fusemount", 0, true}, kRefuse, kMountsHost},
      {{"overlay", 'o', true}, kRefuse, kMountsHost},
      {{"scratch", 'S', true}, kRefuse, kMountsHost},
      {{"workdir", 'W', true}, kRefuse, kMountsHost},
      {{"home", 'H', true}, kRefuse, kMountsHost},
      {{"writable", 'w', false}, kRefuse, "writes into the shared image"},
      {{"fakeroot", 'f', false},
       kRefuse,
       "runs the task as root in the container; only singularity.build_args may ask for it"},
      {{"add-caps", 0, true}, kRefuse, kPrivilege},
      {{"allow-setuid", 0, false}, kRefuse, kPrivilege},
      {{"keep-privs", 0, false}, kRefuse, kPrivilege},
      {{"security", 0, true}, kRefuse, kPrivilege},
      {{"boot", 0, false}, kRefuse, kPrivilege},
      {{"network-args", 0, true}, kRefuse, "maps host ports into the container"},
      {{"apply-cgroups", 0, true}, kRefuse, kHostFile},
      {{"env-file", 0, true}, kRefuse, kHostFile},
      {{"authfile", 0, true}, kRefuse, kHostFile},
      {{"docker-host", 0, true}, kRefuse, "talks to another Docker daemon"},
  };
  return *options;
}

const std::vector<PolicyOption>& ApptainerBuildOptions() {
  static const auto* options = new std::vector<PolicyOption>{
      {{"fakeroot", 'f', false}, kAllow, nullptr},
      {{"force", 'F', false}, kAllow, nullptr},
      {{"notest", 'T', false}, kAllow, nullptr},
      {{"nv", 0, false}, kAllow, nullptr},
      {{"nvccli", 0, false}, kAllow, nullptr},
      {{"rocm", 0, false}, kAllow, nullptr},
      {{"writable-tmpfs", 0, false}, kAllow, nullptr},
      {{"disable-cache", 0, false}, kAllow, nullptr},
      {{"fix-perms", 0, false}, kAllow, nullptr},
      {{"warn-unused-build-args", 0, false}, kAllow, nullptr},
      {{"arch", 0, true}, kAllow, nullptr},
      {{"build-arg", 0, true}, kEnv, nullptr},
      {{"bind", 'B', true}, kApptainerBind, nullptr},
      {{"mount", 0, true}, kRefuse, kMountsHost},
      {{"sandbox", 's', false}, kRefuse, "builds a directory; the agent needs a SIF image"},
      {{"update", 'u', false}, kRefuse, "builds into an existing sandbox directory"},
      {{"build-arg-file", 0, true}, kRefuse, kHostFile},
      {{"authfile", 0, true}, kRefuse, kHostFile},
      {{"tmpdir", 0, true}, kRefuse, kHostFile},
      {{"pem-path", 0, true}, kRefuse, kHostFile},
      {{"docker-host", 0, true}, kRefuse, "talks to another Docker daemon"},
      {{"docker-login", 0, false}, kRefuse, "asks for a password on the terminal"},
      {{"passphrase", 0, false}, kRefuse, "asks for a password on the terminal"},
  };
  return *options;
}

// One table with its grammar; specs[i] belongs to entries[i].
struct Table {
  explicit Table(const std::vector<PolicyOption>& options) : entries(options), grammar(&specs) {
    for (const PolicyOption& option : entries) specs.push_back(option.spec);
  }
  const std::vector<PolicyOption>& entries;
  std::vector<OptionSpec> specs;
  OptionGrammar grammar;
};

const Table& TableFor(RuntimeFamily family, RuntimeStep step) {
  static const Table* docker_run = new Table(DockerRunOptions());
  static const Table* docker_build = new Table(DockerBuildOptions());
  static const Table* apptainer_run = new Table(ApptainerRunOptions());
  static const Table* apptainer_build = new Table(ApptainerBuildOptions());
  if (family == RuntimeFamily::kDocker) {
    return step == RuntimeStep::kRun ? *docker_run : *docker_build;
  }
  return step == RuntimeStep::kRun ? *apptainer_run : *apptainer_build;
}

const PolicyOption& EntryOf(const Table& table, const OptionSpec* spec) {
  return table.entries[static_cast<size_t>(spec - table.specs.data())];
}

absl::Status Refused(absl::string_view why) { return absl::InvalidArgumentError(why); }

// Letters, digits and '_', not starting with a digit.
bool IsVariableName(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (const char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// An occurrence of an env option with a name and no value.
bool CopiesVariable(const Table& table, const ParsedOption& option) {
  return option.spec != nullptr && EntryOf(table, option.spec).rule == kEnv &&
         option.value.find('=') == std::string::npos;
}

// `path` absolute, without "." or ".." components, equal to or below `root`.
bool IsBelow(const std::string& path, const std::string& root) {
  if (path.empty() || path[0] != '/' || root.empty() || root[0] != '/') return false;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "." || part == "..") return false;
  }
  if (root == "/") return true;
  return path == root || (absl::StartsWith(path, root) && path[root.size()] == '/');
}

}  // namespace

RuntimeFamily RuntimeFamilyOf(absl::string_view runtime_name) {
  return runtime_name == "docker" || runtime_name == "podman" ? RuntimeFamily::kDocker
                                                              : RuntimeFamily::kApptainer;
}

RunArgumentPolicy::RunArgumentPolicy(RuntimeFamily family, RuntimeStep step,
                                     HostAccessPolicy host_access)
    : family_(family), step_(step), host_access_(std::move(host_access)) {}

absl::Status RunArgumentPolicy::Check(const std::vector<std::string>& args,
                                      absl::string_view key) const {
  const Table& table = TableFor(family_, step_);
  absl::StatusOr<std::vector<ParsedOption>> parsed = table.grammar.Parse(args);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(key, ": ", parsed.status().message(),
                                                   "; the agent allows only known options"));
  }
  for (const ParsedOption& option : *parsed) {
    absl::Status allowed = CheckOption(option);
    if (!allowed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, ": ", QuoteArgument(option.spelling), " ", allowed.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<RunArgumentPolicy::CopiedVariables> RunArgumentPolicy::TakeCopiedVariables(
    const std::vector<std::string>& args, absl::string_view key) const {
  CopiedVariables out;
  if (step_ != RuntimeStep::kRun) {
    out.args = args;
    return out;
  }
  const Table& table = TableFor(family_, step_);
  absl::StatusOr<std::vector<ParsedOption>> parsed = table.grammar.Parse(args);
  if (!parsed.ok()) return parsed.status();
  std::vector<bool> dropped(args.size(), false);
  for (size_t i = 0; i < parsed->size(); ++i) {
    const ParsedOption& option = (*parsed)[i];
    if (!CopiesVariable(table, option)) continue;
    const bool grouped = (i > 0 && (*parsed)[i - 1].index == option.index) ||
                         (i + 1 < parsed->size() && (*parsed)[i + 1].index == option.index);
    if (grouped) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, ": ", QuoteArgument(option.spelling),
                       " copies a variable inside a group of options; write it on its own "
                       "(-e NAME)"));
    }
    out.names.push_back(option.value);
    dropped[option.index] = true;
    if (option.spelling.find(' ') != std::string::npos) dropped[option.index + 1] = true;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    if (!dropped[i]) out.args.push_back(args[i]);
  }
  return out;
}

absl::Status RunArgumentPolicy::CheckOption(const ParsedOption& option) const {
  if (option.spec == nullptr) {
    return Refused(option.spelling == "--"
                       ? "ends the options; what follows would replace the image and command"
                       : "is not an option; it would replace the image and command");
  }
  const Table& table = TableFor(family_, step_);
  const PolicyOption& entry = EntryOf(table, option.spec);
  if (entry.rule == kRefuse) return Refused(entry.why);
  return CheckValue(entry.rule, option);
}

absl::Status RunArgumentPolicy::CheckValue(int rule, const ParsedOption& option) const {
  const std::string& v = option.value;
  const bool container_mode = absl::StartsWith(v, "container:") || absl::StartsWith(v, "ns:");
  switch (rule) {
    case kEnv: {
      const size_t eq = v.find('=');
      if (eq == std::string::npos && step_ == RuntimeStep::kBuild) {
        return Refused("copies a variable of the agent's environment");
      }
      if (eq == std::string::npos && !IsVariableName(v)) {
        return Refused("copies a variable whose name is not letters, digits and '_'");
      }
      if (eq == 0) return Refused("sets a variable without a name");
      return absl::OkStatus();
    }
    case kIpc:
      if (v == "private" || v == "shareable" || v == "none") return absl::OkStatus();
      if (v == "host" && host_access_.allow_host_ipc) return absl::OkStatus();
      if (v == "host")
        return Refused("shares the host's IPC namespace; the agent does not allow it");
      if (container_mode) return Refused("joins another container's IPC namespace");
      return Refused("is not an IPC mode the agent allows (private, shareable, none)");
    case kDockerNetwork:
      if (v == "none" || v == "bridge" || v == "default") return absl::OkStatus();
      if (v == "host" && host_access_.allow_host_network) return absl::OkStatus();
      if (v == "host") return Refused("shares the host's network; the agent does not allow it");
      if (container_mode) return Refused("joins another container's network");
      return Refused("is not a network the agent allows (none, bridge, default)");
    case kPid:
      if (v == "host" && host_access_.allow_host_pid) return absl::OkStatus();
      if (v == "host") return Refused("shares the host's processes; the agent does not allow it");
      return Refused("joins another container's processes");
    case kCgroupns:
      if (v == "private") return absl::OkStatus();
      return Refused("shares the host's cgroup namespace");
    case kRuntime:
      if (v == "nvidia") return absl::OkStatus();
      return Refused("is not a container runtime the agent allows (nvidia)");
    case kPublish:
      if (host_access_.allow_published_ports) return absl::OkStatus();
      return Refused("publishes container ports on the host; the agent does not allow it");
    case kApptainerNetwork:
      if (v == "none") return absl::OkStatus();
      return Refused("is not a network the agent allows (none)");
    case kDockerBind:
    case kApptainerBind:
      return CheckBind(v, rule == kDockerBind);
    default:
      return absl::OkStatus();
  }
}

absl::Status RunArgumentPolicy::CheckBind(const std::string& spec, bool docker_syntax) const {
  if (host_access_.bind_roots.empty()) {
    return Refused(absl::StrCat(kMountsHost, "; the agent does not allow extra binds"));
  }
  const std::vector<std::string> binds =
      docker_syntax ? std::vector<std::string>{spec} : absl::StrSplit(spec, ',');
  for (const std::string& bind : binds) {
    const std::vector<std::string> parts = absl::StrSplit(bind, ':');
    if (parts.size() > 3 || (docker_syntax && parts.size() < 2)) {
      return Refused("is not a bind the agent understands (SOURCE:TARGET[:ro])");
    }
    // What the split above cannot see: Apptainer also splits binds on '^',
    // honours '\' escapes and CSV quotes and trims white space, and both
    // runtimes rewrite bytes that are not UTF-8 (see MountSpec).
    for (size_t i = 0; i < parts.size() && i < 2; ++i) {
      const MountGrammar grammar =
          docker_syntax ? MountGrammar::kDockerVolume : MountGrammar::kApptainerBind;
      if (!MountSpec::CheckPath(grammar, parts[i]).ok()) {
        return Refused("holds a character the runtime's bind syntax splits or rewrites");
      }
    }
    const std::string options = parts.size() == 3 ? parts[2] : "";
    if (!options.empty() && options != "ro" && options != "rw") {
      return Refused("sets bind options other than ro or rw");
    }
    const bool read_only = options == "ro";
    bool below_root = false;
    for (const HostBindRoot& root : host_access_.bind_roots) {
      if (IsBelow(parts[0], root.host_dir) && (read_only || root.writable)) below_root = true;
    }
    if (!below_root) {
      return Refused(absl::StrCat(kMountsHost,
                                  "; the agent allows only binds below its bind roots (read-only "
                                  "unless the root is writable)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace mlcube
