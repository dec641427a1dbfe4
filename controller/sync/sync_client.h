#ifndef MLCUBE_REMOTE_CONTROLLER_SYNC_SYNC_CLIENT_H_
#define MLCUBE_REMOTE_CONTROLLER_SYNC_SYNC_CLIENT_H_

// Pushes a cube to an agent and pulls workspace files back, over the
// ContentStore and Workspaces services.
//
// Push: scan (ScanCache: unchanged files are not re-hashed) -> canonical
// manifest -> if the agent's committed manifest for the cube has the same
// digest, done (one ListCubes call) -> FindMissingBlobs in batches -> small
// blobs in BatchUploadBlobs of at most 1 MiB, large ones streamed in 1 MiB
// chunks, resumed from the agent's committed offset -> the manifest blob ->
// CommitManifest.
//
// Pull: Snapshot(paths) -> manifest blob -> fetch only blobs whose content
// the local file lacks -> write each file atomically (temp, rename). A local
// file changed since the last sync is kept; the agent's version is written
// next to it as NAME.remote and a warning says so.

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/sync/ignore_rules.h"
#include "controller/sync/scan_cache.h"
#include "controller/terminal/progress_reporter.h"
#include "mlcube_remote/v1/content_store.grpc.pb.h"
#include "mlcube_remote/v1/manifest.pb.h"
#include "mlcube_remote/v1/workspace.grpc.pb.h"

namespace mlcube {

struct PushOptions {
  std::string cube_root;  // absolute
  std::string cube_id;
  IgnoreRules rules;
  std::vector<std::string> exclude_dirs;
  bool dry_run = false;
  bool prune = true;
  bool show_progress = false;
  bool interactive = false;  // progress as a redrawn bar
};

struct PushStats {
  int64_t files_scanned = 0;
  int64_t bytes_scanned = 0;
  int64_t files_hashed = 0;
  int64_t files_sent = 0;  // blobs uploaded (or that would be, in a dry run)
  int64_t bytes_sent = 0;  // payload bytes actually sent (resumed uploads count the rest only)
  int64_t bytes_deduplicated = 0;  // file bytes not sent: the agent had them or a twin
  bool up_to_date = false;         // the agent already had this exact manifest
  int64_t files_written = 0;
  int64_t files_removed = 0;
  std::vector<std::string> warnings;
  std::vector<std::string> skipped_images;
};

struct PullOptions {
  std::string cube_root;  // absolute
  std::string workspace;  // absolute local workspace directory
  std::string cube_id;
  std::vector<std::string> paths;  // workspace-relative; empty: all
  std::string job_id;
  // Paths that are not on the host are left out (outputs of a failed task).
  bool skip_missing = false;
  bool dry_run = false;
  bool show_progress = false;
  bool interactive = false;
};

struct PullStats {
  int64_t files_listed = 0;
  int64_t files_written = 0;
  int64_t bytes_received = 0;
  int64_t files_unchanged = 0;
  std::vector<std::string> conflicts;  // local paths kept, agent's copy beside them
};

class SyncClient {
 public:
  // The cache belongs to the cube being synced; it is saved after a sync.
  SyncClient(std::shared_ptr<grpc::Channel> channel, ScanCache* cache);

  absl::StatusOr<PushStats> Push(const PushOptions& options);
  absl::StatusOr<PullStats> Pull(const PullOptions& options);

  // Uploads one blob from a file (streamed, resumable) or memory; exposed for
  // tests. Returns the bytes actually sent.
  absl::StatusOr<int64_t> UploadStreamed(const ::mlcube_remote::v1::Digest& digest,
                                         const std::string& file, const std::string* memory,
                                         ProgressReporter* progress);

  // Default cube id: basename of the directory, '-', 8 hex chars of the
  // SHA-256 of its absolute path.
  static std::string DefaultCubeId(const std::string& cube_root);

 private:
  absl::StatusOr<std::string> ReadBlob(const ::mlcube_remote::v1::Digest& digest);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::mlcube_remote::v1::ContentStore::Stub> cas_;
  std::unique_ptr<::mlcube_remote::v1::Workspaces::Stub> workspaces_;
  ScanCache* cache_;
};

// Opens a channel to "unix:///path" or "HOST:PORT" with message limits that
// fit 1 MiB payloads plus framing.
std::shared_ptr<grpc::Channel> OpenAgentChannel(const std::string& address);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SYNC_SYNC_CLIENT_H_
