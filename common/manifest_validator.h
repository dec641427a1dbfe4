#ifndef MLCUBE_REMOTE_COMMON_MANIFEST_VALIDATOR_H_
#define MLCUBE_REMOTE_COMMON_MANIFEST_VALIDATOR_H_

// Checks a Manifest that came from the network before anything touches the
// disk. A manifest that passes can be materialised under a root directory
// without any write escaping that root.

#include <cstdint>

#include "absl/status/status.h"
#include "mlcube_remote/v1/manifest.pb.h"

namespace mlcube {

class ManifestValidator {
 public:
  // Largest number of entries accepted (a manifest blob is bounded anyway;
  // this bounds memory and time spent on one request).
  static constexpr int kMaxEntries = 5'000'000;
  // Largest serialized manifest the agent reads or writes: a manifest blob
  // is checked against it (by its digest's size) before it is read.
  static constexpr int64_t kMaxManifestBytes = int64_t{64} << 20;

  // OK, or INVALID_ARGUMENT naming the first offending path. Rules:
  //  - every path is relative, '/'-separated, without empty, "." or ".."
  //    components, without NUL (ValidateRelativePath);
  //  - entries are sorted bytewise by path and unique;
  //  - type is FILE, DIRECTORY or SYMLINK; a FILE has a valid digest; only
  //    a SYMLINK has a target; mode has permission bits only (<= 07777;
  //    see SafeMode for what is applied);
  //  - an entry's ancestors that the manifest lists are directories (so no
  //    write can go through a listed file or symlink);
  //  - a symlink target is relative and, resolved from the link's directory,
  //    stays inside the tree.
  static absl::Status Validate(const ::mlcube_remote::v1::Manifest& manifest);

  static absl::Status ValidateEntry(const ::mlcube_remote::v1::ManifestEntry& entry);

  // The mode an entry gets on disk, and the mode a snapshot reports: its
  // permission bits without setuid, setgid and sticky. Those bits are
  // accepted on the wire (a laptop's setgid directories must still sync) but
  // stripped, never applied: no commit can make a setuid file on the host.
  static uint32_t SafeMode(uint32_t mode) { return mode & 0777; }
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_MANIFEST_VALIDATOR_H_
