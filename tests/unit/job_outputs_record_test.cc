#include "controller/sync/job_outputs_record.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

TEST(JobOutputsRecordTest, SavedOutputsLoadBackPerCubeAndJob) {
  testing::TempDir dir;
  const JobOutputsRecord record(dir.path() + "/jobs");
  ASSERT_TRUE(record.Save("hello-1234", "job-1", {"out", "elsewhere/logs"}).ok());
  absl::StatusOr<std::vector<std::string>> loaded = record.Load("hello-1234", "job-1");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(*loaded, (std::vector<std::string>{"out", "elsewhere/logs"}));
  EXPECT_EQ(record.Load("hello-1234", "job-2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(record.Load("other-1234", "job-1").status().code(), absl::StatusCode::kNotFound);
}

TEST(JobOutputsRecordTest, AJobIdNeverBecomesAPath) {
  testing::TempDir dir;
  const JobOutputsRecord record(dir.path() + "/jobs");
  ASSERT_TRUE(record.Save("c", "../../escape", {"out"}).ok());
  EXPECT_FALSE(std::ifstream(dir.path() + "/escape").good());
  EXPECT_TRUE(record.Load("c", "../../escape").ok());
}

}  // namespace
}  // namespace mlcube
