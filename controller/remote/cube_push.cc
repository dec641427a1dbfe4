#include "controller/remote/cube_push.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "controller/sync/ignore_rules.h"

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

}  // namespace mlcube
