#ifndef MLCUBE_REMOTE_COMMON_YAML_LIMITS_H_
#define MLCUBE_REMOTE_COMMON_YAML_LIMITS_H_

// Bounds on a YAML document before anything builds or walks it. Every YAML
// text the programs read (cube, task, run, platform and parameter files,
// sweep files, metrics, sweep records, the hosts file, the agent config)
// comes from a cube, a task, an agent or a user, and is hostile: a few
// hundred bytes of nested aliases ("billion laughs") expand to millions of
// nodes in any code that walks the tree, an alias inside its own anchor
// makes the tree cyclic, and deep nesting overflows recursive walkers.
//
// CheckYamlLimits streams the document's parse events (yaml-cpp's Parser,
// no tree is built) and tracks, per anchor, the size of what an alias to it
// expands to, so a bomb is refused at its first alias past the budget, in
// time and memory linear in the text. The budgets below are generous for
// real cubes and metrics files and small enough that no walk of an
// accepted document can be slow.

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mlcube {

struct YamlLimits {
  // The text itself.
  size_t max_bytes = size_t{64} << 20;
  // Collections nested inside each other, aliases expanded ("[[x]]" is 2).
  int max_depth = 64;
  // Nodes as written (scalars, nulls, collections, aliases; map keys too).
  size_t max_nodes = 1000000;
  // What aliases add when expanded: nodes, and scalar bytes (the size the
  // document grows to when a walker or emitter copies it out).
  size_t max_alias_nodes = 10000;
  size_t max_alias_bytes = size_t{1} << 20;
};

// OK when the first document of `text` stays within `limits`. Otherwise
// INVALID_ARGUMENT, one line naming `file_name`, the line and column and
// the limit, e.g.
//   "metrics.yaml:7:12: YAML aliases expand to more than 10000 nodes (limit)"
// Syntax errors are reported the same way ("...: invalid YAML: ...").
absl::Status CheckYamlLimits(const std::string& text, absl::string_view file_name,
                             const YamlLimits& limits = YamlLimits());

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_YAML_LIMITS_H_
