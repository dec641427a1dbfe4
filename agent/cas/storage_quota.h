#ifndef MLCUBE_REMOTE_AGENT_CAS_STORAGE_QUOTA_H_
#define MLCUBE_REMOTE_AGENT_CAS_STORAGE_QUOTA_H_

// Bytes one identity stores on the agent, against limits.stored_bytes: the
// files of its cube trees (STATE/cubes/OWNER, task outputs included), its
// partial uploads, the uploaded blobs granted to it that still sit in the
// blob store (not yet moved into a workspace), and its jobs' records and
// logs (what `set_job_bytes` reports). Checked before data
// arrives (FindMissingBlobs, uploads) and before a commit grows a cube, so a
// push over the limit fails at once with a message instead of filling the
// disk. Tasks writing outputs are not stopped mid-run; the next push is.
//
// Chunks kept in the store for the next delta of a big committed file hold
// the same bytes as that file's workspace copy, which is already counted:
// the hashes `set_covered` reports for an identity are not counted again.
//
// Measuring walks the identity's trees, so a result is reused for a few
// seconds (the walk for 20,000 files takes tens of milliseconds).
// Thread-safe.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "agent/cas/blob_grants.h"
#include "agent/cas/blob_store.h"
#include "agent/cas/upload_manager.h"

namespace mlcube {

class StorageQuota {
 public:
  // `limit` 0: no limit (nothing is measured). None owned.
  StorageQuota(int64_t limit, std::string cubes_root, BlobStore* store, BlobGrants* grants,
               UploadManager* uploads)
      : limit_(limit),
        cubes_root_(std::move(cubes_root)),
        store_(store),
        grants_(grants),
        uploads_(uploads) {}

  // OK, or RESOURCE_EXHAUSTED naming usage and limit when `owner` storing
  // `more` bytes would pass the limit.
  absl::Status CheckRoom(const std::string& owner, int64_t more);

  // OK unless the owner's other cubes plus `cube_bytes` for cube `cube_id`
  // pass the limit (what the commit would leave behind).
  absl::Status CheckCommit(const std::string& owner, const std::string& cube_id,
                           int64_t cube_bytes);

  // Measures afresh.
  int64_t BytesOf(const std::string& owner);
  // The measure of the last few seconds (measured when there is none).
  int64_t RecentBytesOf(const std::string& owner) { return Cached(owner).total; }

  // Forgets the cached measure (after a commit changed the trees).
  void Invalidate(const std::string& owner);

  // Blob hashes (chunks of committed files) not to count for an identity.
  using CoveredFn = std::function<absl::flat_hash_set<std::string>(const std::string& owner)>;
  void set_covered(CoveredFn covered) { covered_ = std::move(covered); }

  // What an identity's job records and logs occupy on disk.
  using JobBytesFn = std::function<int64_t(const std::string& owner)>;
  void set_job_bytes(JobBytesFn job_bytes) { job_bytes_ = std::move(job_bytes); }

 private:
  struct Measure {
    int64_t total = 0;
    std::map<std::string, int64_t> by_cube;
    int64_t jobs = 0;        // records and logs
    std::string unmeasured;  // why a cube could not be measured, if one could not
    std::chrono::steady_clock::time_point at;
  };
  Measure MeasureOf(const std::string& owner);
  Measure Cached(const std::string& owner);
  absl::Status OverLimit(const std::string& owner, int64_t would_be,
                         const std::string& unmeasured) const;

  const int64_t limit_;
  const std::string cubes_root_;
  BlobStore* store_;
  BlobGrants* grants_;
  CoveredFn covered_;
  JobBytesFn job_bytes_;
  UploadManager* uploads_;
  absl::Mutex mu_;
  std::map<std::string, Measure> cache_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_CAS_STORAGE_QUOTA_H_
