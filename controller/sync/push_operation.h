#ifndef MLCUBE_REMOTE_CONTROLLER_SYNC_PUSH_OPERATION_H_
#define MLCUBE_REMOTE_CONTROLLER_SYNC_PUSH_OPERATION_H_

// One push of a cube to an agent:
// scan (ScanCache: unchanged files are not re-hashed) -> canonical manifest
// -> if the agent's committed manifest for the cube has the same digest,
// done (one ListCubes call, issued while the scan runs, which also says
// which optional features the agent supports) -> FindMissingBlobs
// -> upload what is missing (BlobUploader) -> the manifest blob ->
// CommitManifest. A commit refused because a blob the agent vouched for
// turned out rewritten by a task is retried once, asking about every blob.

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "controller/sync/blob_uploader.h"
#include "controller/sync/compression_policy.h"
#include "controller/sync/parallel_runner.h"
#include "controller/sync/scan_cache.h"
#include "controller/sync/scanner.h"
#include "controller/sync/sync_options.h"
#include "mlcube_remote/v1/content_store.grpc.pb.h"
#include "mlcube_remote/v1/workspace.grpc.pb.h"

namespace mlcube {

class PushOperation {
 public:
  PushOperation(::mlcube_remote::v1::ContentStore::Stub* cas,
                ::mlcube_remote::v1::Workspaces::Stub* workspaces, ScanCache* cache,
                const PushOptions& options)
      : uploader_(cas), workspaces_(workspaces), cache_(cache), options_(options) {}

  absl::StatusOr<PushStats> Run();

 private:
  absl::Status ScanWhileListingCubes();
  // True when the agent already committed this exact manifest.
  bool AgentIsUpToDate() const;
  // The blobs of the tree (and the manifest). Files pushed unchanged since
  // the last push to this agent only when `with_synced` (a retry asks
  // about everything; the first attempt never sends them).
  void CollectItems(bool with_synced);
  // One round: ask, upload, commit. Sets `retry` when the commit asks for
  // another round.
  absl::Status UploadAndCommit(int attempt, bool* retry);
  struct Missing {
    std::vector<const UploadItem*> items;
    int64_t files = 0;
    int64_t file_bytes = 0;  // of whole files and of chunks
  };
  absl::StatusOr<Missing> MissingItems();
  // Small blobs changed since the last push, and the manifest, sent without
  // asking first when they fit one batch: a small change then costs one
  // upload and the commit. Empty when they do not fit or on a retry.
  std::vector<const UploadItem*> EagerItems(int attempt);
  // Uploads the eager batch while asking about (then uploading) the rest;
  // returns the bytes sent (in a dry run: the file bytes that would be).
  absl::StatusOr<int64_t> UploadEagerAndMissing(int attempt);
  void AddChunked(const ::mlcube_remote::v1::ManifestEntry& e, const ScanCache::Record& record);
  absl::Status Commit(bool* retry, int attempt);

  // Uses what the agent supports (ListCubes says).
  void UseFeatures();

  BlobUploader uploader_;
  ::mlcube_remote::v1::Workspaces::Stub* workspaces_;
  ScanCache* cache_;
  const PushOptions& options_;

  PushStats stats_;
  ScanResult scan_;
  ::mlcube_remote::v1::ListCubesResponse cubes_;
  bool agent_splices_ = false;
  bool agent_has_cube_ = false;  // the agent has a commit of this cube
  CompressionPolicy compression_{kTransferThreads};
  std::string manifest_bytes_;
  v1Digest manifest_digest_;
  std::vector<UploadItem> items_;
  std::vector<bool> eager_;  // per item: in the eager batch
  // A big file the agent lacks is sent as its chunk list and the chunks it
  // lacks; the agent splices them (the whole-file blob is never sent).
  // A big file, sent as the chunks the agent lacks, or whole (with its list)
  // when the agent holds none of its chunks: no delta can pay, and a whole
  // file is written once on the agent where chunks are written twice.
  struct ChunkedFile {
    v1Digest whole;
    UploadItem whole_item;
    std::string list_bytes;
    UploadItem list;
    std::vector<UploadItem> chunks;
  };
  static bool NoneOfItsChunksOnTheAgent(const ChunkedFile& file,
                                        const absl::flat_hash_set<std::string>& missing);
  std::vector<std::unique_ptr<ChunkedFile>> chunked_;
  ::mlcube_remote::v1::CommitManifestResponse committed_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SYNC_PUSH_OPERATION_H_
