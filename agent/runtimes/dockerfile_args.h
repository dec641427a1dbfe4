#ifndef MLCUBE_REMOTE_AGENT_RUNTIMES_DOCKERFILE_ARGS_H_
#define MLCUBE_REMOTE_AGENT_RUNTIMES_DOCKERFILE_ARGS_H_

// The build arguments of a Dockerfile as `docker build` sees them, so an
// image named by them (`ARG BASE=ubuntu:22.04` / `FROM ${BASE}`, as MLCube
// cubes write it) can be checked by the name the build will really use.
// Docker's rules:
//   - `ARG NAME[=default] ...` declares; a --build-arg given for a declared
//     NAME wins over its default; a default may use earlier arguments.
//   - ARGs before the first FROM are global: only they expand in FROM lines.
//     Each FROM starts a stage with no arguments in scope; `ARG NAME` in a
//     stage brings a global one in (its value, unless it sets its own).
//   - `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME:+word}` expand; an
//     argument not in scope is the empty string.
// Anything else with a '$' (other modifiers, `\$` escapes) is not
// expanded: Expand says so, and the caller refuses the word.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mlcube {

class DockerfileArgs {
 public:
  // `build_args`: the --build-arg values the build gets (the cube's
  // docker.build_args with -P overrides, the job's environment, proxies).
  explicit DockerfileArgs(std::map<std::string, std::string> build_args)
      : build_args_(std::move(build_args)) {}

  // The words after `ARG` of one instruction ("A=1", "B", "C=\"x y\"").
  void Declare(const std::vector<std::string>& words);
  // A FROM instruction ends the global section and starts a stage.
  void StartStage();

  // `word` with its arguments expanded: in the global scope for a FROM
  // (`for_from`), else in the current stage's. INVALID_ARGUMENT saying what
  // cannot be expanded; an argument that expands to nothing is fine here
  // (the caller decides about an empty result).
  absl::StatusOr<std::string> Expand(absl::string_view word, bool for_from) const;

 private:
  std::optional<std::string> Lookup(const std::string& name, bool global) const;

  std::map<std::string, std::string> build_args_;
  std::map<std::string, std::string> global_;
  std::map<std::string, std::string> stage_;
  bool in_stage_ = false;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_RUNTIMES_DOCKERFILE_ARGS_H_
