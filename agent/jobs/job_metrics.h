#ifndef MLCUBE_REMOTE_AGENT_JOBS_JOB_METRICS_H_
#define MLCUBE_REMOTE_AGENT_JOBS_JOB_METRICS_H_

// A job's live metrics (SubmitJobRequest.metrics_path): the file a task
// writes under one of its outputs, whose tail GetJob returns while the job
// runs so `mlcube-remote runs` shows the latest values before any pull.
//
// The file is the task's and therefore hostile. At submit its path must be
// workspace-relative and inside an output of the job's tasks (as the job
// will run them: -P overrides applied). When read, it is opened below the
// cube's workspace with BeneathDir (openat2 RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS: a symlink anywhere on the path, the output directory
// included, is refused, never followed), must be a regular file with one
// link, and at most kMaxBytes of it are read. The agent only returns bytes;
// the controller parses them.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "common/cube.h"
#include "mlcube_remote/v1/jobs.pb.h"

namespace mlcube {

// The metrics tail a caller already has: its file's size and mtime.
struct MetricsSeen {
  int64_t size = 0;
  int64_t modified_unix_ms = 0;
};

class JobMetrics {
 public:
  static constexpr size_t kMaxBytes = 64u << 10;

  // OK when request.metrics_path is empty or lies inside an output
  // directory (or is an output file) of the request's tasks in `cube`;
  // otherwise INVALID_ARGUMENT naming metrics_path and the outputs.
  static absl::Status CheckPath(const Cube& cube,
                                const mlcube_remote::v1::SubmitJobRequest& request);

  // The tail of `metrics_path` below `workspace` now. Never fails: what
  // went wrong is MetricsTail.error (one line), the data then empty. When
  // the file still has the size and mtime of `seen` (size > 0), nothing is
  // read: `unchanged` is set with the size and mtime, no data.
  static mlcube_remote::v1::MetricsTail Read(const std::string& workspace,
                                             const std::string& metrics_path,
                                             const MetricsSeen& seen = {});

  // .jsonl / .ndjson: one step per line, so only whole lines are returned.
  static bool IsJsonLines(const std::string& path);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_JOBS_JOB_METRICS_H_
