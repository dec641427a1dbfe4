#ifndef MLCUBE_REMOTE_CONTROLLER_SYNC_PULL_SCOPE_H_
#define MLCUBE_REMOTE_CONTROLLER_SYNC_PULL_SCOPE_H_

// Which entries of an agent's snapshot a pull may place. The agent's
// manifest is hostile input: it may list anything anywhere in the workspace
// (`runs/SWEEP/sweep.yaml`, the cube's own inputs) under any name. A pull
// keeps only the entries at or below a path the controller itself asked
// for or expects as a job's output, with a name ManifestValidator accepts,
// no control character in it (names end up in messages and terminals),
// and not named like a pull's own temp files. Everything else is left out
// and counted, the first few named, for one warning.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "mlcube_remote/v1/manifest.pb.h"

namespace mlcube {

struct PullOptions;

class PullScope {
 public:
  // The pull's own temp files start with this; entries named so are left out.
  static constexpr char kTempPrefix[] = ".mlcube-pull-";

  // Anywhere in the workspace.
  static PullScope Everything() { return PullScope(true, {}); }
  // At or below one of `roots` (workspace-relative; an invalid one matches
  // nothing).
  static PullScope Below(std::vector<std::string> roots);
  // What `options` asks for: its paths and outputs; everything when it names
  // neither and no job.
  static PullScope For(const PullOptions& options);

  // True when `path` (a valid relative path) is a root or lies below one.
  bool Contains(const std::string& path) const;

  // Entries left out (by Filter, or by a placing that refused them):
  // counted, the first kNamed named with why.
  struct Dropped {
    int64_t count = 0;
    std::vector<std::string> first;  // printable
    void Note(absl::string_view path, absl::string_view why);
    // One line, "LEAD N entries: 'a' (why), ... and K more"; "" when none.
    std::string Warning(absl::string_view lead) const;
  };
  static constexpr size_t kNamed = 10;

  // Moves the entries that may be placed out of `manifest` into the result
  // (in their order); the rest are counted in `dropped`.
  ::mlcube_remote::v1::Manifest Filter(::mlcube_remote::v1::Manifest* manifest,
                                       Dropped* dropped) const;

 private:
  PullScope(bool everything, std::vector<std::string> roots)
      : everything_(everything), roots_(std::move(roots)) {}

  // Why `entry` is left out, or "" when it may be placed.
  std::string Refusal(const ::mlcube_remote::v1::ManifestEntry& entry) const;

  bool everything_;
  std::vector<std::string> roots_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SYNC_PULL_SCOPE_H_
