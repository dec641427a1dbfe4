#ifndef MLCUBE_REMOTE_CONTROLLER_GANG_GANG_RECORD_H_
#define MLCUBE_REMOTE_CONTROLLER_GANG_GANG_RECORD_H_

// What makes the ranks of a job across hosts one job for `status`, `logs`
// and `cancel`: its id ("gang-" and 8 hex digits), and each rank's host and
// job there. Kept on the laptop in ControllerCacheDir()/gangs/ID.yaml,
// written whole (atomically) once every rank is submitted.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mlcube {

struct GangRank {
  std::string host;
  std::string job_id;
};

struct GangRecord {
  std::string id;
  std::string task;
  std::string master_addr;
  int master_port = 0;
  std::vector<GangRank> ranks;  // ranks[i] is rank i

  static std::string NewId();
  static bool IsId(const std::string& text);
  static std::string DefaultDir();

  absl::Status Save(const std::string& dir) const;
  // NOT_FOUND for an id with no record; DATA_LOSS naming the file for one
  // that does not read back.
  static absl::StatusOr<GangRecord> Load(const std::string& dir, const std::string& id);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_GANG_GANG_RECORD_H_
