#ifndef MLCUBE_REMOTE_AGENT_RUNTIMES_RUN_ARGUMENT_POLICY_H_
#define MLCUBE_REMOTE_AGENT_RUNTIMES_RUN_ARGUMENT_POLICY_H_

// Which extra runtime arguments a cube may add (docker.cpu_args, gpu_args,
// env_args; singularity.run_args, build_args). They come from the remote
// caller and the runtime acts with the power of the docker group (root on
// the host), so they are an allow-list: every argument is parsed with the
// runtime's own option grammar (OptionGrammar), and each option must be one
// this policy knows to give the container nothing of the host: resources
// (--shm-size, --memory, --cpus, --ulimit, --gpus), environment (-e NAME=V,
// and -e NAME, which copies the caller's variable: see TakeCopiedVariables),
// the entrypoint and working directory inside the container, and the
// namespace modes that stay private. Binds, devices, capabilities,
// privileged mode, users, host namespaces, files read or written on the
// host, positionals (they would replace the image) and anything unknown
// are refused, unless HostAccessPolicy (the agent's admin) allows the one
// host access asked for.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/config/host_access_policy.h"
#include "agent/runtimes/option_grammar.h"

namespace mlcube {

// Docker and Podman share one option grammar and option set; Apptainer and
// SingularityCE share another.
enum class RuntimeFamily { kDocker, kApptainer };
// Which command the arguments are added to: `run`/`exec`, or `build`.
enum class RuntimeStep { kRun, kBuild };

class RunArgumentPolicy {
 public:
  RunArgumentPolicy(RuntimeFamily family, RuntimeStep step, HostAccessPolicy host_access);

  // OK when every argument of `args` (already split into words) is allowed.
  // Otherwise INVALID_ARGUMENT, one line naming `key`, the argument as
  // written (quoted, escaped, shortened) and why, e.g.
  //   docker.cpu_args: "-v/:/host" mounts a host path into the container;
  //   the agent does not allow extra binds
  absl::Status Check(const std::vector<std::string>& args, absl::string_view key) const;

  // `-e NAME`, `--env NAME`, `--env=NAME` (no value) copy NAME from the
  // runtime's own environment, i.e. the agent's; in a cube they mean the
  // caller's (MLCube runs on the caller's machine). So the agent takes them
  // out of the arguments and gives the container the caller's value itself
  // (never in argv). Returns `args` without those occurrences and the names
  // they copy, in order. Only for the run step (builds never copy); for
  // arguments Check accepted. INVALID_ARGUMENT naming `key` for a copy
  // inside a group of short options ("-te NAME"), which cannot be taken out
  // alone.
  struct CopiedVariables {
    std::vector<std::string> args;
    std::vector<std::string> names;
  };
  absl::StatusOr<CopiedVariables> TakeCopiedVariables(const std::vector<std::string>& args,
                                                      absl::string_view key) const;

 private:
  // OK, or why `option` (parsed with this policy's grammar) is refused.
  absl::Status CheckOption(const ParsedOption& option) const;
  absl::Status CheckValue(int rule, const ParsedOption& option) const;
  absl::Status CheckBind(const std::string& spec, bool docker_syntax) const;

  RuntimeFamily family_;
  RuntimeStep step_;
  HostAccessPolicy host_access_;
};

// kDocker for "docker" and "podman", kApptainer for "apptainer" and
// "singularity" (the runtime names ContainerRuntime::name() gives).
RuntimeFamily RuntimeFamilyOf(absl::string_view runtime_name);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_RUNTIMES_RUN_ARGUMENT_POLICY_H_
