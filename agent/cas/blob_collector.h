#ifndef MLCUBE_REMOTE_AGENT_CAS_BLOB_COLLECTOR_H_
#define MLCUBE_REMOTE_AGENT_CAS_BLOB_COLLECTOR_H_

// Garbage collection of the content store: when the store grows past its
// cache size, unreferenced blobs are removed, least recently used first
// (BlobStore::CollectGarbage). What is referenced is asked for only when a
// collection runs; blobs younger than the minimum age (uploads in flight)
// are kept. Thread-safe.

#include <cstdint>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "agent/cas/blob_store.h"

namespace mlcube {

class BlobCollector {
 public:
  struct Options {
    // Collect when the store holds more than this (0: never).
    int64_t cache_bytes = int64_t{20} << 30;
    // Blobs younger than this are never collected.
    int64_t min_age_seconds = 3600;
    // At most one collection per this many seconds (MaybeCollect).
    int64_t interval_seconds = 600;
  };
  // The hashes of every blob still referenced (committed manifests and what
  // they name).
  using ReferencedFn = std::function<absl::flat_hash_set<std::string>()>;

  // `store` is not owned and outlives the collector.
  BlobCollector(Options options, BlobStore* store, ReferencedFn referenced)
      : options_(options), store_(store), referenced_(std::move(referenced)) {}

  // Collects unless collection is off or the last one ran less than the
  // interval ago (then OK, nothing done).
  absl::Status MaybeCollect();

  // Collects now.
  absl::Status Collect();

 private:
  const Options options_;
  BlobStore* store_;
  ReferencedFn referenced_;
  absl::Mutex mu_;
  int64_t last_collection_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_CAS_BLOB_COLLECTOR_H_
