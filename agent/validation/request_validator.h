#ifndef MLCUBE_REMOTE_AGENT_VALIDATION_REQUEST_VALIDATOR_H_
#define MLCUBE_REMOTE_AGENT_VALIDATION_REQUEST_VALIDATOR_H_

// The checks every incoming request passes before the agent acts on it:
// names, ids, digests, paths, sizes and counts, field by field, with no
// state needed. A refusal is INVALID_ARGUMENT naming the field (and quoting
// at most a short prefix of the bad value), so a malformed or hostile
// request never reaches the disk, a runtime's command line, or a log in full.
// What needs state (does the cube exist, is the task known) is checked by
// the services afterwards.

#include <string>

#include "absl/status/status.h"
#include "mlcube_remote/v1/content_store.pb.h"
#include "mlcube_remote/v1/jobs.pb.h"
#include "mlcube_remote/v1/workspace.pb.h"

namespace mlcube {

// Limits of one request (well above what the controller sends).
struct RequestLimits {
  static constexpr int kMaxDigests = 10000;
  static constexpr int64_t kMaxPayloadBytes = 1 << 20;
  // Uncompressed bytes of the zstd-compressed blobs of one batch upload.
  static constexpr int64_t kMaxBatchUncompressedBytes = 4 << 20;
  static constexpr int kMaxTasks = 64;
  static constexpr int kMaxMapEntries = 1000;
  static constexpr size_t kMaxKeyBytes = 256;
  static constexpr size_t kMaxValueBytes = 64 << 10;
  static constexpr int kMaxSnapshotPaths = 10000;
  static constexpr size_t kMaxPathBytes = 4096;
  static constexpr int kMaxBatchRuns = 1000;
};

// [A-Za-z0-9._-]{1,128}, not "." or "..": a cube id is a directory name.
absl::Status ValidateCubeId(const std::string& id);
// Eight lowercase hex digits, as the agent makes them.
bool IsValidJobId(const std::string& id);

absl::Status ValidateSubmitJobRequest(const ::mlcube_remote::v1::SubmitJobRequest& request);
// Each run as ValidateSubmitJobRequest, errors prefixed "runs[I]: ".
absl::Status ValidateSubmitJobsRequest(const ::mlcube_remote::v1::SubmitJobsRequest& request);
absl::Status ValidateListJobsRequest(const ::mlcube_remote::v1::ListJobsRequest& request);
absl::Status ValidateWatchJobRequest(const ::mlcube_remote::v1::WatchJobRequest& request);
absl::Status ValidateFindMissingBlobsRequest(
    const ::mlcube_remote::v1::FindMissingBlobsRequest& request);
absl::Status ValidateBatchUploadBlobsRequest(
    const ::mlcube_remote::v1::BatchUploadBlobsRequest& request);
// The first chunk of an upload stream names the digest; later chunks may not.
absl::Status ValidateUploadChunk(const ::mlcube_remote::v1::UploadChunk& chunk, bool first);
absl::Status ValidateBatchReadBlobsRequest(
    const ::mlcube_remote::v1::BatchReadBlobsRequest& request);
absl::Status ValidateReadBlobRequest(const ::mlcube_remote::v1::ReadBlobRequest& request);
absl::Status ValidateCommitManifestRequest(
    const ::mlcube_remote::v1::CommitManifestRequest& request);
absl::Status ValidateSnapshotRequest(const ::mlcube_remote::v1::SnapshotRequest& request);
absl::Status ValidateDeleteCubeRequest(const ::mlcube_remote::v1::DeleteCubeRequest& request);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_VALIDATION_REQUEST_VALIDATOR_H_
