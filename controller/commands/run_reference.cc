#include "controller/commands/run_reference.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/cube_loader.h"
#include "common/safe_path.h"
#include "controller/sweeps/sweep_record.h"

namespace mlcube {
namespace {

bool IsComponent(absl::string_view part) {
  return !part.empty() && part != "." && part != ".." && ValidateRelativePath(part).ok();
}

}  // namespace

bool IsRunReference(const std::string& job) { return job.find('/') != std::string::npos; }

absl::StatusOr<RunReference> ResolveRunReference(const std::string& reference,
                                                 const CubeOptions& cube_options) {
  const std::string shown = PrintableExcerpt(reference);
  const std::vector<absl::string_view> parts = absl::StrSplit(reference, '/');
  if (parts.size() != 2 || !IsComponent(parts[0]) || !IsComponent(parts[1])) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", shown, "': expected a job id or SWEEP/RUN (e.g. 20261125-163200-3fa9/r000)"));
  }
  absl::StatusOr<Cube> cube = LoadCube(ToLoadOptions(cube_options));
  if (!cube.ok()) {
    return absl::Status(cube.status().code(),
                        absl::StrCat(shown, ": loading the cube: ", cube.status().message()));
  }
  const std::string sweep_id(parts[0]);
  const std::string path = SweepRecord::PathFor(cube->workspace, sweep_id);
  absl::StatusOr<SweepRecord> sweep = SweepRecord::Load(path);
  if (!sweep.ok()) {
    return absl::Status(sweep.status().code(), absl::StrCat(shown, ": no sweep ", sweep_id, " (",
                                                            sweep.status().message(), ")"));
  }
  auto run = std::find_if(sweep->runs.begin(), sweep->runs.end(),
                          [&](const RunRecord& r) { return r.id == parts[1]; });
  if (run == sweep->runs.end()) {
    std::vector<std::string> ids;
    for (const RunRecord& r : sweep->runs) ids.push_back(r.id);
    if (ids.size() > 8) {
      ids.resize(8);
      ids.push_back("...");
    }
    return absl::NotFoundError(absl::StrCat(shown, ": sweep ", sweep_id, " has no run '",
                                            PrintableExcerpt(parts[1]),
                                            "' (runs: ", absl::StrJoin(ids, ", "), ")"));
  }
  if (run->job_id.empty() || run->host.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(shown, ": the run was never submitted (", run->state, ")"));
  }
  return RunReference{run->host, run->job_id};
}

}  // namespace mlcube
