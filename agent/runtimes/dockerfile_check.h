#ifndef MLCUBE_REMOTE_AGENT_RUNTIMES_DOCKERFILE_CHECK_H_
#define MLCUBE_REMOTE_AGENT_RUNTIMES_DOCKERFILE_CHECK_H_

// The images a Dockerfile builds on: `FROM IMAGE`, `COPY --from=IMAGE` and
// `RUN --mount=...,from=IMAGE`. Docker resolves them on the local engine, so
// they could name another identity's private build (by its mlcube-local/
// tag or by its image ID) and read it into this identity's image. Each
// must be an earlier stage of the same Dockerfile or a registry-style name
// (CheckCubeImageName). A name built from build arguments ($VAR, ${VAR})
// is checked as the build will see it (DockerfileArgs: the Dockerfile's
// ARG defaults and the build's --build-arg values); one that stays
// unresolved is refused. COPY/ADD sources need no check here: Docker
// confines them to the build context itself.

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mlcube {

class DockerfileCheck {
 public:
  // `name` names the Dockerfile in messages ("docker.build_file: Dockerfile");
  // `build_args` are the --build-arg values the build gets.
  explicit DockerfileCheck(std::string name, std::map<std::string, std::string> build_args = {})
      : name_(std::move(name)), build_args_(std::move(build_args)) {}

  // INVALID_ARGUMENT, one line naming the file, the line and the image.
  absl::Status Check(absl::string_view dockerfile) const;

 private:
  // OK, or why `image` (as written, `resolved` after expansion) may not be
  // used by the instruction at `where`.
  absl::Status CheckImage(const std::string& where, const std::string& image,
                          const absl::StatusOr<std::string>& resolved) const;

  std::string name_;
  std::map<std::string, std::string> build_args_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_RUNTIMES_DOCKERFILE_CHECK_H_
