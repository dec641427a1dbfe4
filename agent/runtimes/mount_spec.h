#ifndef MLCUBE_REMOTE_AGENT_RUNTIMES_MOUNT_SPEC_H_
#define MLCUBE_REMOTE_AGENT_RUNTIMES_MOUNT_SPEC_H_

// How one mount is written for a container runtime, and which paths cannot
// be written there at all. A mount travels as one string, "HOST:DEST[:ro]",
// that the runtime splits again with its own grammar; a path holding one of
// that grammar's separators would become two mounts (or another mount than
// the one meant):
//
// - Apptainer/Singularity `--bind` (and APPTAINER_BIND): pflag reads the
//   value as one CSV record (',' separates values, '"' quotes, a newline
//   ends the record), then ParseBindPath splits binds on ',' and '^' (its
//   element pattern is [^,^:]+), source from destination on ':', honours
//   '\,' and '\:' escapes and trims Unicode white space around elements.
//   `--bind 'WS/.,/home/u:/mlcube_io0'` binds the user's home.
// - Docker/Podman `--volume`: split on ':' (SRC:DEST:MODE), the mode's
//   options on ','.
// - Both are Go programs that pass the mount on as JSON, which replaces
//   bytes that are not UTF-8 with U+FFFD: another path.
//
// So a mount path must be absolute, valid UTF-8, free of control characters
// and of ':' and ','; for Apptainer also of '^', '\\' and '"', and it may not
// end in white space. Nothing is escaped: what cannot be written plainly is
// refused, so every runtime version reads exactly the one mount meant.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mlcube {

enum class MountGrammar {
  kApptainerBind,  // apptainer/singularity --bind, APPTAINER_BIND
  kDockerVolume,   // docker/podman --volume
};

class MountSpec {
 public:
  // OK when `path` reads back unchanged as one side of one mount in
  // `grammar`; else INVALID_ARGUMENT saying which character (one line, the
  // path quoted and escaped).
  static absl::Status CheckPath(MountGrammar grammar, absl::string_view path);

  // CheckPath for every grammar the agent drives: what a cube's mount paths
  // are held to at submit, whatever runtime the job names, so a cube that
  // passes on one runtime passes on all.
  static absl::Status CheckPathForEveryRuntime(absl::string_view path);

  // "HOST:DEST" or "HOST:DEST:ro", after CheckPath of both paths.
  static absl::StatusOr<std::string> Render(MountGrammar grammar, absl::string_view host,
                                            absl::string_view dest, bool read_only);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_RUNTIMES_MOUNT_SPEC_H_
