#include "agent/jobs/job_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "common/file_util.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using mlcube_remote::v1::MetricsTail;
using mlcube_remote::v1::SubmitJobRequest;
using ::testing::HasSubstr;

Cube CubeWithOutputs(const std::string& workspace) {
  Cube cube;
  cube.workspace = workspace;
  Parameter metrics;
  metrics.name = "metrics";
  metrics.host_path = workspace + "/runs/s/r000/metrics";
  Parameter outside;
  outside.name = "shared";
  outside.host_path = "/elsewhere/out";
  cube.tasks["train"].outputs = {metrics, outside};
  return cube;
}

SubmitJobRequest Request(const std::string& metrics_path) {
  SubmitJobRequest request;
  request.add_tasks("train");
  request.set_metrics_path(metrics_path);
  return request;
}

TEST(JobMetricsTest, PathMustLieInsideAnOutputOfTheTasks) {
  const Cube cube = CubeWithOutputs("/w");
  EXPECT_TRUE(JobMetrics::CheckPath(cube, Request("")).ok());
  EXPECT_TRUE(JobMetrics::CheckPath(cube, Request("runs/s/r000/metrics/log.jsonl")).ok());
  for (const char* bad : {"runs/s/r000/params.yaml", "runs/s/r000/metrics/../../x.yaml",
                          "/w/runs/s/r000/metrics/a.yaml", "runs/s/r000/metricsX/a.yaml"}) {
    absl::Status status = JobMetrics::CheckPath(cube, Request(bad));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(status.message(), HasSubstr("metrics_path")) << status;
  }
  EXPECT_THAT(JobMetrics::CheckPath(cube, Request("x.yaml")).message(),
              HasSubstr("not inside an output of task(s) train (outputs: runs/s/r000/metrics)"));
}

TEST(JobMetricsTest, ReadsTheTailOfARegularFile) {
  testing::TempDir workspace;
  ASSERT_TRUE(MakeDirs(workspace.path() + "/out").ok());
  std::string lines;
  for (int i = 0; i < 5000; ++i) lines += "{\"step\": " + std::to_string(i) + ", \"loss\": 0.5}\n";
  lines += "{\"step\": 5000, \"lo";  // being written
  ASSERT_TRUE(WriteFileAtomically(workspace.path() + "/out/log.jsonl", lines, 0644).ok());
  MetricsTail tail = JobMetrics::Read(workspace.path(), "out/log.jsonl");
  EXPECT_EQ(tail.error(), "");
  EXPECT_TRUE(tail.head_dropped());
  EXPECT_EQ(tail.file_size(), static_cast<int64_t>(lines.size()));
  EXPECT_LE(tail.data().size(), JobMetrics::kMaxBytes);
  EXPECT_EQ(tail.data().front(), '{');
  EXPECT_THAT(tail.data(), ::testing::EndsWith("{\"step\": 4999, \"loss\": 0.5}\n"));
}

TEST(JobMetricsTest, AnUnchangedFileIsNotSentAgain) {
  testing::TempDir workspace;
  const std::string file = workspace.path() + "/m.jsonl";
  ASSERT_TRUE(WriteFileAtomically(file, "{\"step\": 1, \"loss\": 0.5}\n", 0644).ok());
  MetricsTail first = JobMetrics::Read(workspace.path(), "m.jsonl");
  ASSERT_EQ(first.error(), "");
  ASSERT_FALSE(first.data().empty());
  EXPECT_FALSE(first.unchanged());
  MetricsSeen seen{first.file_size(), first.modified_unix_ms()};
  MetricsTail again = JobMetrics::Read(workspace.path(), "m.jsonl", seen);
  EXPECT_TRUE(again.unchanged());
  EXPECT_EQ(again.data(), "");
  EXPECT_EQ(again.file_size(), first.file_size());
  // The task writes a step more: the tail comes again.
  ASSERT_TRUE(WriteFileAtomically(
                  file, "{\"step\": 1, \"loss\": 0.5}\n{\"step\": 2, \"loss\": 0.4}\n", 0644)
                  .ok());
  MetricsTail changed = JobMetrics::Read(workspace.path(), "m.jsonl", seen);
  EXPECT_FALSE(changed.unchanged());
  EXPECT_THAT(changed.data(), ::testing::EndsWith("{\"step\": 2, \"loss\": 0.4}\n"));
}

TEST(JobMetricsTest, ABigYamlFileIsAnErrorNotACutDocument) {
  testing::TempDir workspace;
  ASSERT_TRUE(
      WriteFileAtomically(workspace.path() + "/m.yaml", std::string(70000, '#') + "\na: 1\n", 0644)
          .ok());
  MetricsTail tail = JobMetrics::Read(workspace.path(), "m.yaml");
  EXPECT_THAT(tail.error(), HasSubstr("over the 64 KiB"));
  EXPECT_EQ(tail.data(), "");
}

TEST(JobMetricsTest, APlantedSymlinkIsNeverFollowed) {
  testing::TempDir outside;
  testing::TempDir workspace;
  ASSERT_TRUE(WriteFileAtomically(outside.path() + "/secret", "secret: 42\n", 0644).ok());
  ASSERT_TRUE(MakeDirs(workspace.path() + "/out").ok());
  ASSERT_EQ(
      symlink((outside.path() + "/secret").c_str(), (workspace.path() + "/out/m.yaml").c_str()), 0);
  ASSERT_EQ(symlink(outside.path().c_str(), (workspace.path() + "/dir").c_str()), 0);
  for (const char* rel : {"out/m.yaml", "dir/secret"}) {
    MetricsTail tail = JobMetrics::Read(workspace.path(), rel);
    EXPECT_THAT(tail.error(), HasSubstr("symbolic link")) << rel;
    EXPECT_EQ(tail.data(), "");
  }
  EXPECT_THAT(JobMetrics::Read(workspace.path(), "out/none.yaml").error(),
              HasSubstr("does not exist"));
}

}  // namespace
}  // namespace mlcube
