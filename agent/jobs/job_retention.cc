#include "agent/jobs/job_retention.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace mlcube {

namespace {

int64_t FinishedAt(const mlcube_remote::v1::Job& job) {
  return job.finished_unix_ms() > 0 ? job.finished_unix_ms() : job.created_unix_ms();
}

}  // namespace

std::vector<std::string> JobRetention::Expired(const std::vector<mlcube_remote::v1::Job>& jobs,
                                               int64_t now_ms) const {
  std::vector<const mlcube_remote::v1::Job*> newest_first;
  for (const auto& job : jobs) newest_first.push_back(&job);
  std::sort(newest_first.begin(), newest_first.end(), [](const auto* a, const auto* b) {
    if (FinishedAt(*a) != FinishedAt(*b)) return FinishedAt(*a) > FinishedAt(*b);
    return a->created_unix_ms() > b->created_unix_ms();
  });
  const int64_t oldest_kept = now_ms - int64_t{kept_days} * 24 * 3600 * 1000;
  std::vector<std::string> expired;
  for (size_t i = 0; i < newest_first.size(); ++i) {
    const bool too_many = kept > 0 && i >= static_cast<size_t>(kept);
    const bool too_old = kept_days > 0 && FinishedAt(*newest_first[i]) < oldest_kept;
    if (too_many || too_old) expired.push_back(newest_first[i]->id());
  }
  return expired;
}

std::string JobRetention::Describe() const {
  const std::string days =
      kept_days > 0 ? absl::StrCat(kept_days, " days") : std::string("without an age limit");
  const std::string count =
      kept > 0 ? absl::StrCat("at most ", kept, " per identity") : std::string("any number");
  return absl::StrCat("finished jobs are kept ", days, " and ", count,
                      " (limits.finished_jobs_kept_days, limits.finished_jobs_kept)");
}

}  // namespace mlcube
