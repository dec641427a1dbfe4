#ifndef MLCUBE_REMOTE_AGENT_JOBS_JOB_RETENTION_H_
#define MLCUBE_REMOTE_AGENT_JOBS_JOB_RETENTION_H_

// How long the agent keeps an identity's finished jobs (their records and
// logs): limits.finished_jobs_kept_days and limits.finished_jobs_kept. Jobs
// that have not finished are never chosen.

#include <cstdint>
#include <string>
#include <vector>

#include "mlcube_remote/v1/jobs.pb.h"

namespace mlcube {

struct JobRetention {
  int kept_days = 0;  // finished longer ago are removed; 0: no age limit
  int kept = 0;       // at most this many finished jobs per identity; 0: no count limit

  // The ids, among one identity's finished `jobs`, to remove at `now_ms`:
  // those finished more than kept_days ago, and the oldest beyond `kept`
  // (by finish time, then creation time).
  std::vector<std::string> Expired(const std::vector<mlcube_remote::v1::Job>& jobs,
                                   int64_t now_ms) const;

  // "finished jobs are kept 30 days and at most 1000 per identity
  // (limits.finished_jobs_kept_days, limits.finished_jobs_kept)".
  std::string Describe() const;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_JOBS_JOB_RETENTION_H_
