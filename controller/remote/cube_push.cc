#include "controller/remote/cube_push.h"

#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/safe_path.h"
#include "controller/sync/ignore_rules.h"
#include "controller/sync/scan_cache.h"

namespace mlcube {

absl::StatusOr<PushStats> PushCube(SyncClient& client, const CubePushRequest& request,
                                   const Console& console) {
  const Cube& cube = *request.cube;
  PushOptions push;
  push.cube_root = cube.root;
  push.cube_id = request.cube_id;
  absl::StatusOr<IgnoreRules> rules = IgnoreRules::ForCube(cube.root);
  if (!rules.ok()) return rules.status();
  push.rules = *rules;
  for (const std::string& pattern : request.exclude) push.rules.AddPattern(pattern);
  if (!cube.singularity.image_dir.empty()) push.exclude_dirs.push_back(cube.singularity.image_dir);
  push.exclude_dirs.push_back(cube.workspace + "/.image");
  push.dry_run = request.dry_run;
  push.prune = request.prune;
  push.show_progress = console.verbosity() != Verbosity::kQuiet;
  push.interactive = ::isatty(STDERR_FILENO) == 1;
  absl::StatusOr<PushStats> stats = client.Push(push);
  if (!stats.ok()) return stats.status();
  for (const std::string& warning : stats->warnings) console.Warning(warning);
  for (const std::string& image : stats->skipped_images) {
    console.Verbose(absl::StrCat("not syncing container image ", image));
  }
  return stats;
}

namespace {

bool IsReadableDirectory(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
         access(path.c_str(), R_OK | X_OK) == 0;
}

}  // namespace

std::string BuildContextId(const std::string& context_dir) {
  return SyncClient::DefaultCubeId(NormalizePath(context_dir) + "#build-context");
}

std::string OutsideBuildContextId(const Cube& cube) {
  const std::string context = NormalizePath(cube.docker.build_context);
  if (context.empty() || IsWithin(context, NormalizePath(cube.root))) return "";
  return BuildContextId(context);
}

absl::StatusOr<std::string> PushBuildContext(std::shared_ptr<grpc::Channel> channel,
                                             const BuildContextPushRequest& request,
                                             const Console& console) {
  const Cube& cube = *request.cube;
  const std::string context_id = OutsideBuildContextId(cube);
  if (!request.docker_build || context_id.empty() ||
      cube.docker.build_strategy == BuildStrategy::kPull) {
    return std::string();
  }
  const std::string context = NormalizePath(cube.docker.build_context);
  if (!IsReadableDirectory(context)) {
    const std::string what = absl::StrCat(cube.config_file, ": docker.build_context: ", context,
                                          " is not a readable directory here");
    if (cube.docker.build_strategy == BuildStrategy::kAlways) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, " (build_strategy: always needs it)"));
    }
    console.Warning(absl::StrCat(what, "; the host pulls the image unless it has it"));
    return std::string();
  }
  absl::StatusOr<IgnoreRules> rules = IgnoreRules::ForBuildContext(context);
  if (!rules.ok()) return rules.status();
  ScanCache cache = ScanCache::Load(ScanCache::DefaultFileFor(context));
  SyncClient client(std::move(channel), &cache);
  PushOptions push;
  push.cube_root = context;
  push.cube_id = context_id;
  push.rules = *rules;
  for (const std::string& pattern : request.exclude) push.rules.AddPattern(pattern);
  push.exclude_dirs = {cube.workspace, cube.workspace + "/.image"};
  if (!cube.singularity.image_dir.empty()) push.exclude_dirs.push_back(cube.singularity.image_dir);
  push.dry_run = request.dry_run;
  push.show_progress = console.verbosity() != Verbosity::kQuiet;
  push.interactive = ::isatty(STDERR_FILENO) == 1;
  absl::StatusOr<PushStats> stats = client.Push(push);
  if (!stats.ok()) {
    return absl::Status(stats.status().code(), absl::StrCat("pushing the build context ", context,
                                                            ": ", stats.status().message()));
  }
  for (const std::string& warning : stats->warnings) console.Warning(warning);
  console.Verbose(
      absl::StrFormat("synced build context %s: %d files", context, stats->files_scanned));
  return push.cube_id;
}

}  // namespace mlcube
