#include "agent/jobs/build_context_placement.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/safe_path.h"

namespace mlcube {

absl::Status PlaceBuildContexts(const std::string& cube_root, const std::string& synced_context_dir,
                                Cube* cube) {
  const std::string root = NormalizePath(cube_root);
  const std::string outside = NormalizePath(cube->docker.build_context);
  const std::pair<std::string*, const std::string*> contexts[] = {
      {&cube->docker.build_context, &cube->docker.build_file},
      {&cube->singularity.build_context, &cube->singularity.build_file}};
  for (const auto& [context, file] : contexts) {
    if (context->empty()) continue;
    const std::string norm = NormalizePath(*context);
    if (IsWithin(norm, root)) {
      *context = norm;
    } else if (!synced_context_dir.empty() && norm == outside) {
      *context = NormalizePath(synced_context_dir);
      cube->synced_build_context = *context;
    } else {
      *context = absl::StrCat(root, "/", kUnsyncedBuildContext);
    }
    if (file->empty() || absl::StrContains(*file, "://") || absl::StartsWith(*file, "docker-")) {
      continue;
    }
    if (!IsWithin(NormalizePath(absl::StrCat(*context, "/", *file)), *context)) {
      return absl::InvalidArgumentError(
          absl::StrCat(context == &cube->docker.build_context ? "docker" : "singularity",
                       ".build_file: ", *file, " leaves the build context"));
    }
  }
  return absl::OkStatus();
}

}  // namespace mlcube
