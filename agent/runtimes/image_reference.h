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

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_RUNTIMES_IMAGE_REFERENCE_H_
