#ifndef MLCUBE_REMOTE_AGENT_SCHEDULERS_EXIT_RECORD_H_
#define MLCUBE_REMOTE_AGENT_SCHEDULERS_EXIT_RECORD_H_

// A step's exit record (STEP.exit: "exit N" or "signal N"), written so that
// a disk that filled up while the task ran cannot lose it: Reserve, before
// the task starts, creates STEP.exit.reserved with its block allocated;
// Commit writes the record into that block and renames the file into place,
// which takes no new space. Without a reservation (the disk was already
// full at the start) Commit writes a new file, atomically, as best it can.
// A step whose record is lost reads as "its supervisor died", and the job
// fails although its task may have succeeded: that is what this prevents.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"

namespace mlcube {

class ExitRecord {
 public:
  // Never fails: a reservation that cannot be made is simply not there.
  static ExitRecord Reserve(const std::string& step_prefix);

  // Writes `text` as STEP.exit (replacing nothing: a step ends once).
  absl::Status Commit(absl::string_view text);

  bool reserved() const { return static_cast<bool>(reserved_); }

 private:
  ExitRecord(std::string step_prefix, UniqueFd reserved)
      : step_prefix_(std::move(step_prefix)), reserved_(std::move(reserved)) {}
  absl::Status CommitReserved(absl::string_view text);

  std::string step_prefix_;
  UniqueFd reserved_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SCHEDULERS_EXIT_RECORD_H_
