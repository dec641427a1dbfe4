#ifndef MLCUBE_REMOTE_CONTROLLER_SYNC_PULL_OPERATION_H_
#define MLCUBE_REMOTE_CONTROLLER_SYNC_PULL_OPERATION_H_

// One pull of workspace files from an agent: Snapshot(paths) -> manifest
// blob -> fetch only blobs whose content the local file lacks -> write each
// file atomically (temp, syncfs, rename). A local file changed since the last
// sync is kept; the agent's version is written next to it as NAME.remote and
// reported as a conflict. A big file the agent offers as a chunk list, with
// an older version here, costs only the chunks that version lacks
// (DeltaFetcher).
//
// The agent is not trusted with the laptop's files. Only the entries
// PullScope keeps are placed (the rest are named in one warning), and every
// one of them is placed through directory fds opened beneath the workspace
// (BeneathDir: no symlink is ever followed, whoever made it): a directory
// the manifest lists is never entered when it is a symlink here, a file is
// written with O_NOFOLLOW into a temp name and renamed in the same
// directory, a symlink is created as a leaf and never traversed. An entry
// that cannot be placed so is left as it is and named in a warning.

#include <sys/stat.h>

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/beneath_dir.h"
#include "controller/sync/blob_downloader.h"
#include "controller/sync/pull_scope.h"
#include "controller/sync/scan_cache.h"
#include "controller/sync/sync_options.h"
#include "mlcube_remote/v1/content_store.grpc.pb.h"
#include "mlcube_remote/v1/manifest.pb.h"
#include "mlcube_remote/v1/workspace.grpc.pb.h"

namespace mlcube {

class PullOperation {
 public:
  PullOperation(::mlcube_remote::v1::ContentStore::Stub* cas,
                ::mlcube_remote::v1::Workspaces::Stub* workspaces, ScanCache* cache,
                const PullOptions& options)
      : downloader_(cas), workspaces_(workspaces), cache_(cache), options_(options) {}

  absl::StatusOr<PullStats> Run();

  // Most entries one snapshot may list; a longer one is refused before it
  // is parsed (it bounds the memory and time of one pull).
  static constexpr int64_t kMaxEntries = 1'000'000;

  struct Target {
    const ::mlcube_remote::v1::ManifestEntry* entry;
    std::string dir;        // workspace-relative directory ("" the workspace)
    std::string name;       // final name in `dir`: the entry's, or NAME.remote
    std::string temp_name;  // in `dir`
    std::string cache_key;  // empty when the workspace is outside the cube
    // The entry's own name in `dir` holding an older regular file (its
    // chunks need not be fetched), or empty.
    std::string basis_name;
  };

 private:
  bool MayHaveLocalBasis() const;
  absl::Status LoadSnapshot();
  absl::StatusOr<::mlcube_remote::v1::Manifest> ParseManifest(const std::string& bytes);
  // Decides per entry: unchanged, overwrite, or conflict (NAME.remote).
  absl::Status Plan();
  absl::Status PlanEntry(const ::mlcube_remote::v1::ManifestEntry& e, const std::string& key,
                         int index);
  absl::Status PlanDirectory(const ::mlcube_remote::v1::ManifestEntry& e);
  absl::Status PlanSymlink(const ::mlcube_remote::v1::ManifestEntry& e,
                           const BeneathDir::Parent& parent, const struct stat* local, int index);
  absl::Status PlanFile(const ::mlcube_remote::v1::ManifestEntry& e,
                        const BeneathDir::Parent& parent, const struct stat* local,
                        const std::string& key, int index);
  // The local file's digest, through `dir_fd` (never following a link).
  absl::StatusOr<std::string> LocalHash(int dir_fd, const std::string& name,
                                        const std::string& path, const struct stat& st,
                                        const std::string& key, bool* synced);
  // Records that `path` is left as it is (a warning names it); FAILED_PRECONDITION
  // and INVALID_ARGUMENT are such refusals, any other error is returned.
  absl::Status Refuse(const std::string& path, const absl::Status& why);
  absl::Status Fetch();
  absl::StatusOr<UniqueFd> CreateTemp(const Target& t) const;
  absl::Status WriteTemp(const Target& t, const std::string& data) const;
  absl::Status WriteTargets(const v1Digest& digest, const std::string& data);
  absl::Status FetchLarge(const v1Digest& digest, std::atomic<int64_t>* received);
  // Into the first target's temp file: by chunks when it has a local basis.
  absl::Status FetchInto(const Target& target, int fd, std::atomic<int64_t>* received);
  void DiscardTemps() const;
  absl::Status Place();
  absl::Status PlaceTarget(const Target& t);

  BlobDownloader downloader_;
  ::mlcube_remote::v1::Workspaces::Stub* workspaces_;
  ScanCache* cache_;
  const PullOptions& options_;

  PullStats stats_;
  std::optional<BeneathDir> workspace_dir_;
  PullScope::Dropped refused_;  // entries that could not be placed
  ::mlcube_remote::v1::Manifest manifest_;
  std::vector<Target> targets_;
  absl::flat_hash_map<std::string, std::vector<const Target*>> by_digest_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SYNC_PULL_OPERATION_H_
