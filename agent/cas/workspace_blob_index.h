#ifndef MLCUBE_REMOTE_AGENT_CAS_WORKSPACE_BLOB_INDEX_H_
#define MLCUBE_REMOTE_AGENT_CAS_WORKSPACE_BLOB_INDEX_H_

// Where committed workspace files hold a blob's content. A commit moves each
// freshly uploaded blob into the workspace (a rename: the data is written to
// disk once, as with `cp`), so after the move the content lives in the
// workspace file, not in the BlobStore. This index lets the agent still
// answer FindMissingBlobs, serve reads and materialise a second cube from
// such files.
//
// A location is trusted only while the file keeps the size and mtime the
// manifest recorded; content copied out of it is hashed and verified, so a
// task that rewrote a file (even restoring its mtime) can never pass wrong
// data off as the blob. The workspace file and the store never share an
// inode, so a task writing into an input cannot corrupt the store.
//
// A file the agent has just written and verified may carry a Seal: its
// device, inode and change time. Every write, truncate, chmod, utimes or
// rename sets a file's change time to the current time and no unprivileged
// process can set it back, so while an open file still shows the seal its
// content is what the agent wrote, and copies from it skip hashing (a second
// cube with the same data is copied by the kernel, as `cp` would). Seals live
// in memory only: after a restart every location is verified by hashing again.
//
// Thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/digest.h"
#include "common/unique_fd.h"
#include "mlcube_remote/v1/manifest.pb.h"

namespace mlcube {

class WorkspaceBlobIndex {
 public:
  struct Seal {
    uint64_t dev = 0;
    uint64_t ino = 0;
    int64_t ctime_ns = 0;
  };

  // The seal of the file `name` in `dfd` when it can be trusted to change on
  // any later write: its change time is older than `clock_before_ns`, the
  // coarse real-time clock (the one file times come from) read before this
  // call. A file changed in that clock tick could be changed again within it
  // without its change time moving, so it gets no seal (nullopt).
  static std::optional<Seal> SealOf(int dfd, const std::string& name, int64_t clock_before_ns);
  // CLOCK_REALTIME_COARSE in nanoseconds.
  static int64_t CoarseClockNs();

  // Records every file of `manifest`, materialised under `root`.
  void AddManifest(const std::string& root, const ::mlcube_remote::v1::Manifest& manifest);
  void Add(const v1Digest& digest, std::string path, int64_t mtime_ns);
  // Like Add, for a file whose content the agent verified when it wrote it.
  void AddSealed(const v1Digest& digest, std::string path, int64_t mtime_ns, const Seal& seal);

  // True when some recorded file whose path starts with `under` ("" for
  // any) still has the digest's size and its mtime.
  bool Has(const v1Digest& digest, absl::string_view under) const;

  // Opens a file under `under` that still looks like the blob (size,
  // mtime). The caller verifies the content (reads are checked by the
  // client, copies by CopyVerified).
  absl::StatusOr<UniqueFd> OpenLive(const v1Digest& digest, absl::string_view under) const;

  // Copies the blob's content into `out_fd` (at offset 0, truncating) from
  // the first recorded file whose content verifies (or that still carries
  // its seal: copied in the kernel, not hashed); locations that fail are
  // forgotten. NOT_FOUND when none verifies. Seals are honoured only for
  // files under `sealed_under` (the committing identity's own cubes): a task
  // could write into a file in the instant between its placing and its
  // sealing, and only its own identity may ever copy what it wrote unchecked.
  absl::Status CopyVerified(const v1Digest& digest, int out_fd, absl::string_view sealed_under);

  size_t size() const;

 private:
  struct Location {
    std::string path;
    int64_t mtime_ns;
    std::optional<Seal> seal;
  };
  void AddLocation(const v1Digest& digest, Location location);
  std::vector<Location> Candidates(const v1Digest& digest) const;
  void Forget(const v1Digest& digest, const std::string& path);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::vector<Location>> locations_;  // by hash
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_CAS_WORKSPACE_BLOB_INDEX_H_
