#include "agent/jobs/job_metrics.h"

#include <sys/stat.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/beneath_dir.h"
#include "common/cube_loader.h"
#include "common/file_tail.h"
#include "common/file_util.h"
#include "common/safe_path.h"

namespace mlcube {

bool JobMetrics::IsJsonLines(const std::string& path) {
  const std::string lower = absl::AsciiStrToLower(path);
  return absl::EndsWith(lower, ".jsonl") || absl::EndsWith(lower, ".ndjson");
}

absl::Status JobMetrics::CheckPath(const Cube& cube,
                                   const mlcube_remote::v1::SubmitJobRequest& request) {
  const std::string& path = request.metrics_path();
  if (path.empty()) return absl::OkStatus();
  const std::string shown = absl::StrCat("metrics_path '", PrintableExcerpt(path), "'");
  if (!ValidateRelativePath(path).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(shown, ": expected a workspace-relative path without '..'"));
  }
  const std::vector<std::string> outputs = WorkspaceOutputPaths(
      cube, std::vector<std::string>(request.tasks().begin(), request.tasks().end()));
  for (const std::string& output : outputs) {
    if (path == output || IsWithin(path, output)) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      shown, ": not inside an output of task(s) ", absl::StrJoin(request.tasks(), ","),
      outputs.empty() ? " (they have no outputs in the workspace)"
                      : absl::StrCat(" (outputs: ", absl::StrJoin(outputs, ", "), ")")));
}

mlcube_remote::v1::MetricsTail JobMetrics::Read(const std::string& workspace,
                                                const std::string& metrics_path,
                                                const MetricsSeen& seen) {
  mlcube_remote::v1::MetricsTail out;
  absl::StatusOr<BeneathDir> root = BeneathDir::Open(workspace);
  absl::StatusOr<UniqueFd> fd =
      root.ok() ? root->OpenRegularFile(metrics_path) : absl::StatusOr<UniqueFd>(root.status());
  if (!fd.ok()) {
    out.set_error(std::string(fd.status().message()));
    return out;
  }
  struct stat st;
  if (seen.size > 0 && fstat(fd->get(), &st) == 0 && st.st_size == seen.size &&
      FileTail::ModifiedUnixMs(st) == seen.modified_unix_ms) {
    out.set_file_size(st.st_size);
    out.set_modified_unix_ms(seen.modified_unix_ms);
    out.set_unchanged(true);
    return out;
  }
  const bool lines = IsJsonLines(metrics_path);
  absl::StatusOr<FileTail> tail = FileTail::Read(fd->get(), kMaxBytes, lines);
  if (!tail.ok()) {
    out.set_error(absl::StrCat(metrics_path, ": ", tail.status().message()));
    return out;
  }
  out.set_file_size(tail->file_size);
  out.set_modified_unix_ms(tail->modified_unix_ms);
  if (!lines && tail->head_dropped) {
    // A cut YAML/JSON document does not parse; say so instead.
    out.set_error(absl::StrCat(metrics_path, ": ", tail->file_size, " bytes, over the ",
                               kMaxBytes >> 10, " KiB read while the task runs"));
    return out;
  }
  out.set_head_dropped(tail->head_dropped);
  out.set_data(std::move(tail->data));
  return out;
}

}  // namespace mlcube
