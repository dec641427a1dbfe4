#include "agent/jobs/job_retention.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mlcube {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr int64_t kDay = 24 * 3600 * 1000;
constexpr int64_t kNow = 1000 * kDay;

mlcube_remote::v1::Job Finished(const std::string& id, int64_t finished_ms) {
  mlcube_remote::v1::Job job;
  job.set_id(id);
  job.set_created_unix_ms(finished_ms - 1000);
  job.set_finished_unix_ms(finished_ms);
  return job;
}

TEST(JobRetentionTest, OlderThanTheDaysOrBeyondTheCountExpire) {
  const std::vector<mlcube_remote::v1::Job> jobs = {
      Finished("new", kNow - 1000), Finished("week", kNow - 7 * kDay),
      Finished("month", kNow - 31 * kDay), Finished("day", kNow - kDay)};
  EXPECT_THAT((JobRetention{30, 0}.Expired(jobs, kNow)), ElementsAre("month"));
  EXPECT_THAT((JobRetention{0, 2}.Expired(jobs, kNow)), ElementsAre("week", "month"));
  EXPECT_THAT((JobRetention{5, 3}.Expired(jobs, kNow)), UnorderedElementsAre("week", "month"));
  EXPECT_THAT((JobRetention{0, 0}.Expired(jobs, kNow)), IsEmpty());
  // A job without a finish time (cancelled while queued) ages from its
  // creation.
  mlcube_remote::v1::Job cancelled;
  cancelled.set_id("cancelled");
  cancelled.set_created_unix_ms(kNow - 40 * kDay);
  EXPECT_THAT((JobRetention{30, 0}.Expired({cancelled}, kNow)), ElementsAre("cancelled"));
}

TEST(JobRetentionTest, DescribeNamesTheSettings) {
  EXPECT_EQ((JobRetention{30, 1000}.Describe()),
            "finished jobs are kept 30 days and at most 1000 per identity "
            "(limits.finished_jobs_kept_days, limits.finished_jobs_kept)");
}

}  // namespace
}  // namespace mlcube
