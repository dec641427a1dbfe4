#ifndef MLCUBE_REMOTE_AGENT_RUNTIMES_DOCKERFILE_CHECK_H_
#define MLCUBE_REMOTE_AGENT_RUNTIMES_DOCKERFILE_CHECK_H_

// The images a Dockerfile builds on: `FROM IMAGE`, `COPY --from=IMAGE` and
// `RUN --mount=...,from=IMAGE`. Docker resolves them on the local engine, so
// they could name another identity's private build (by its mlcube-local/
// tag or by its image ID) and read it into this identity's image. Each
// must be an earlier stage of the same Dockerfile or a registry-style name
// (CheckCubeImageName); a name built from build arguments ($VAR) is
// refused, as the agent checks the name as written. COPY/ADD sources need
// no check here: Docker confines them to the build context itself.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mlcube {

class DockerfileCheck {
 public:
  // `name` names the Dockerfile in messages ("docker.build_file: Dockerfile").
  explicit DockerfileCheck(std::string name) : name_(std::move(name)) {}

  // INVALID_ARGUMENT, one line naming the file, the line and the image.
  absl::Status Check(absl::string_view dockerfile) const;

 private:
  std::string name_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_RUNTIMES_DOCKERFILE_CHECK_H_
