#include "controller/remote/cube_push.h"

#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/repository_inputs.h"
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
  push.sync_features = request.sync_features;
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

// Pushes `dir` (outside the cube) as the tree `id`: its .dockerignore and
// .mlcubeignore, the hosts file's `exclude`, never the cube's workspace or
// an image. Returns `id`.
absl::StatusOr<std::string> PushSecondTree(std::shared_ptr<grpc::Channel> channel, const Cube& cube,
                                           const std::string& dir, const std::string& id,
                                           const std::vector<std::string>& exclude, bool dry_run,
                                           const std::optional<std::string>& sync_features,
                                           const Console& console) {
  absl::StatusOr<IgnoreRules> rules = IgnoreRules::ForBuildContext(dir);
  if (!rules.ok()) return rules.status();
  ScanCache cache = ScanCache::Load(ScanCache::DefaultFileFor(dir));
  SyncClient client(std::move(channel), &cache);
  PushOptions push;
  push.cube_root = dir;
  push.cube_id = id;
  push.rules = *rules;
  for (const std::string& pattern : exclude) push.rules.AddPattern(pattern);
  push.exclude_dirs = {cube.workspace, cube.workspace + "/.image"};
  if (!cube.singularity.image_dir.empty()) push.exclude_dirs.push_back(cube.singularity.image_dir);
  push.dry_run = dry_run;
  push.show_progress = console.verbosity() != Verbosity::kQuiet;
  push.interactive = ::isatty(STDERR_FILENO) == 1;
  push.sync_features = sync_features;
  absl::StatusOr<PushStats> stats = client.Push(push);
  if (!stats.ok()) return stats.status();
  for (const std::string& warning : stats->warnings) console.Warning(warning);
  console.Verbose(absl::StrFormat("synced %s: %d files", dir, stats->files_scanned));
  return id;
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
  absl::StatusOr<std::string> pushed =
      PushSecondTree(channel, cube, context, context_id, request.exclude, request.dry_run,
                     request.sync_features, console);
  if (!pushed.ok()) {
    return absl::Status(pushed.status().code(), absl::StrCat("pushing the build context ", context,
                                                             ": ", pushed.status().message()));
  }
  return pushed;
}

absl::StatusOr<std::map<std::string, std::string>> PushInputTrees(
    std::shared_ptr<grpc::Channel> channel, const InputTreesPushRequest& request,
    const Console& console) {
  const Cube& cube = *request.cube;
  absl::StatusOr<std::map<std::string, std::string>> dirs =
      RepositoryInputDirs(cube, request.tasks);
  if (!dirs.ok()) return dirs.status();
  std::map<std::string, std::string> trees;
  for (const auto& [relative, dir] : *dirs) {
    if (!IsReadableDirectory(dir)) {
      return absl::FailedPreconditionError(
          absl::StrCat(cube.config_file, ": ", dir, " (", relative,
                       " from the cube, holding inputs of its tasks) is not a readable directory"));
    }
    absl::StatusOr<std::string> id =
        PushSecondTree(channel, cube, dir, SyncClient::DefaultCubeId(dir + "#input-tree"),
                       request.exclude, request.dry_run, request.sync_features, console);
    if (!id.ok()) {
      return absl::Status(id.status().code(), absl::StrCat("pushing ", dir,
                                                           " (inputs from the "
                                                           "cube's repository): ",
                                                           id.status().message()));
    }
    trees[relative] = *id;
  }
  return trees;
}

}  // namespace mlcube
