#ifndef MLCUBE_REMOTE_CONTROLLER_SYNC_IGNORE_RULES_H_
#define MLCUBE_REMOTE_CONTROLLER_SYNC_IGNORE_RULES_H_

// Which paths of a cube are not synced, in gitignore syntax: the built-in
// container image patterns (*.sif, *.simg), the cube's .mlcubeignore, the
// hosts file's `exclude` list and directories such as the Singularity image
// dir. Supported: `#` comments, `!` negation (the last matching pattern
// wins), a trailing `/` for directories only, a leading or inner `/`
// anchoring the pattern at the cube root, `*`, `?`, `[...]` and `**`.
// As in git, nothing below an ignored directory is looked at, so a negation
// cannot re-include a file inside an ignored directory.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mlcube {

class IgnoreRules {
 public:
  // Only the built-in image patterns.
  IgnoreRules();

  // Built-ins plus ROOT/.mlcubeignore when it exists.
  static absl::StatusOr<IgnoreRules> ForCube(const std::string& root);

  // Built-ins plus ROOT/.mlcubeignore and ROOT/.dockerignore, for a docker
  // build context: .dockerignore patterns are anchored at the root, as
  // Docker reads them (`*.log` there only matches at the top).
  static absl::StatusOr<IgnoreRules> ForBuildContext(const std::string& root);

  // Adds one line of gitignore syntax (blank lines and comments are no-ops).
  void AddPattern(absl::string_view line);
  // Adds every line of a gitignore-syntax text.
  void AddPatterns(absl::string_view text);

  // `path` is relative to the cube root, '/'-separated.
  bool IsIgnored(absl::string_view path, bool is_dir) const;

  // Glob match of a whole string; `*` and `?` do not match '/', `**` does.
  static bool GlobMatch(absl::string_view pattern, absl::string_view text);

 private:
  struct Rule {
    std::string glob;
    bool negate = false;
    bool dir_only = false;
    bool anchored = false;  // match the full path, else the last component
  };
  std::vector<Rule> rules_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SYNC_IGNORE_RULES_H_
