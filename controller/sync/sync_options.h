#ifndef MLCUBE_REMOTE_CONTROLLER_SYNC_SYNC_OPTIONS_H_
#define MLCUBE_REMOTE_CONTROLLER_SYNC_SYNC_OPTIONS_H_

// What a push or pull is asked to do, and what it did.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "controller/sync/ignore_rules.h"

namespace mlcube {

struct PushOptions {
  std::string cube_root;  // absolute
  std::string cube_id;
  IgnoreRules rules;
  std::vector<std::string> exclude_dirs;
  bool dry_run = false;
  bool prune = true;
  bool show_progress = false;
  bool interactive = false;  // progress as a redrawn bar
  // When set, the only protocol features the push uses (comma-separated;
  // "" for none): $MLCUBE_REMOTE_SYNC_FEATURES, to compare with the plain
  // protocol.
  std::optional<std::string> sync_features;
};

struct PushStats {
  int64_t files_scanned = 0;
  int64_t bytes_scanned = 0;
  int64_t files_hashed = 0;
  int64_t files_sent = 0;  // blobs uploaded (or that would be, in a dry run)
  int64_t bytes_sent = 0;  // payload bytes actually sent (resumed uploads count the rest only)
  int64_t bytes_deduplicated = 0;  // file bytes not sent: the agent had them or a twin
  bool up_to_date = false;         // the agent already had this exact manifest
  int64_t files_written = 0;
  int64_t files_removed = 0;
  // Wall time of each phase: walking and hashing the tree (overlapping the
  // agent's listing), asking and uploading, the agent's commit.
  double scan_seconds = 0;
  double transfer_seconds = 0;
  double commit_seconds = 0;
  std::vector<std::string> warnings;
  std::vector<std::string> skipped_images;
};

struct PullOptions {
  std::string cube_root;  // absolute
  std::string workspace;  // absolute local workspace directory
  std::string cube_id;
  std::vector<std::string> paths;  // workspace-relative; empty: all
  std::string job_id;
  // With job_id: the workspace-relative outputs the controller expects of
  // the job (its tasks' outputs, as the cube it submitted names them). A
  // pull places only entries at or below `paths` and these; without either
  // (and without job_id), anywhere in the workspace. The agent's listing is
  // never what decides where a pull may write.
  std::vector<std::string> outputs;
  // Paths that are not on the host are left out (outputs of a failed task).
  bool skip_missing = false;
  bool dry_run = false;
  bool show_progress = false;
  bool interactive = false;
};

struct PullStats {
  int64_t files_listed = 0;
  int64_t files_written = 0;
  int64_t bytes_received = 0;
  int64_t files_unchanged = 0;
  std::vector<std::string> conflicts;  // local paths kept, agent's copy beside them
  // One line each, printable: the entries left out (outside the pull's
  // paths, unusable names) and those that could not be placed (a local
  // symlink or file where the agent has a directory).
  std::vector<std::string> warnings;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SYNC_SYNC_OPTIONS_H_
