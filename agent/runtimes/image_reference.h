#ifndef MLCUBE_REMOTE_AGENT_RUNTIMES_IMAGE_REFERENCE_H_
#define MLCUBE_REMOTE_AGENT_RUNTIMES_IMAGE_REFERENCE_H_

// Image names a cube gives (docker.image, a singularity docker:// or
// docker-daemon: source, a recipe's From:) must name an image the way a
// registry does: [DOMAIN/]PATH[:TAG][@sha256:HEX]. Docker falls back to a
// search by image ID when a name is not found ("aa9c" runs whatever local
// image's ID starts with aa9c, "sha256:aa9c" too), which would let one
// identity run another's private build by its ID. The search only ever
// matches a lowercase hex string (a prefix of an ID) or "sha256:HEX", so a
// bare untagged hex name, a 64-hex ID and an algorithm-named repository
// ("sha256:...") are refused; any other name resolves by name only.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mlcube {

// OK when `image` is a registry-style reference that cannot resolve by
// local image ID; else INVALID_ARGUMENT, one line naming `key`.
absl::Status CheckImageReference(absl::string_view image, absl::string_view key);

// `image` with Docker's default registry written out, as the Docker engine
// reads a name without a domain: "busybox" -> "docker.io/library/busybox",
// "mlcommons/mnist:0.1" -> "docker.io/mlcommons/mnist:0.1". A first
// component with a '.' or ':', or "localhost", is a registry and the name is
// returned unchanged. Podman resolves short names through the host's
// registries.conf, which may define no search registries (Debian's) or
// several (RHEL's, then it refuses to guess without a terminal): a cube's
// image names Docker Hub's image, so Podman is given the full name.
std::string DockerHubQualified(absl::string_view image);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_RUNTIMES_IMAGE_REFERENCE_H_
