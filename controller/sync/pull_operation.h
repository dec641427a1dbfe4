#ifndef MLCUBE_REMOTE_CONTROLLER_SYNC_PULL_OPERATION_H_
#define MLCUBE_REMOTE_CONTROLLER_SYNC_PULL_OPERATION_H_

// One pull of workspace files from an agent: Snapshot(paths) -> manifest
// blob -> fetch only blobs whose content the local file lacks -> write each
// file atomically (temp, syncfs, rename). A local file changed since the last
// sync is kept; the agent's version is written next to it as NAME.remote and
// reported as a conflict. A big file the agent offers as a chunk list, with
// an older version here, costs only the chunks that version lacks
// (DeltaFetcher).

#include <atomic>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "controller/sync/blob_downloader.h"
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

  struct Target {
    const ::mlcube_remote::v1::ManifestEntry* entry;
    std::string final_path;
    std::string temp_path;
    std::string cache_key;  // empty when the workspace is outside the cube
    // An older local version of the file (its chunks need not be fetched),
    // or empty.
    std::string basis;
  };

 private:
  absl::Status LoadSnapshot();
  // Decides per entry: unchanged, overwrite, or conflict (NAME.remote).
  absl::Status Plan();
  absl::Status PlanDirectory(const std::string& local, bool exists, bool is_dir);
  absl::Status PlanSymlink(const ::mlcube_remote::v1::ManifestEntry& e, const std::string& local,
                           bool exists, bool is_link);
  absl::Status PlanFile(const ::mlcube_remote::v1::ManifestEntry& e, const std::string& local,
                        const std::string& key, int index);
  absl::Status Fetch();
  absl::Status WriteTargets(const v1Digest& digest, const std::string& data);
  absl::Status FetchLarge(const v1Digest& digest, std::atomic<int64_t>* received);
  // Into the first target's temp file: by chunks when it has a local basis.
  absl::Status FetchInto(const Target& target, int fd, std::atomic<int64_t>* received);
  absl::Status Place();

  BlobDownloader downloader_;
  ::mlcube_remote::v1::Workspaces::Stub* workspaces_;
  ScanCache* cache_;
  const PullOptions& options_;

  PullStats stats_;
  ::mlcube_remote::v1::Manifest manifest_;
  std::vector<Target> targets_;
  absl::flat_hash_map<std::string, std::vector<const Target*>> by_digest_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SYNC_PULL_OPERATION_H_
