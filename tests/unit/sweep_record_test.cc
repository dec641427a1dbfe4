#include "controller/sweeps/sweep_record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::TempDir;
using ::testing::HasSubstr;

SweepRecord Sample() {
  SweepRecord record;
  record.id = "20261125-120000-ab12";
  record.cube = "hello";
  record.tasks = {"greet"};
  record.axes = {"p:lr", "-P:docker.image"};
  record.created_unix_ms = 1700000000000;
  record.metrics_path = "out/metrics.yaml";
  RunRecord run;
  run.id = "r000";
  run.values = {{"p:lr", "0.1"}, {"-P:docker.image", "a:1"}};
  run.run_dir = "runs/20261125-120000-ab12/r000";
  run.host = "gpu01";
  run.job_id = "0a1b2c3d";
  run.state = "FAILED";
  run.submitted_unix_ms = 1700000000100;
  run.started_unix_ms = 1700000000200;
  run.finished_unix_ms = 1700000004200;
  run.exit_code = 7;
  run.reason = "task exited with 7: it said \"no\"";
  run.metrics = {{"accuracy", "0.93"}, {"dice.mean", "0.8"}};
  record.runs.push_back(run);
  run.id = "r001";
  run.index = 1;
  run.state = "PENDING";
  run.metrics.clear();
  record.runs.push_back(run);
  return record;
}

TEST(SweepRecordTest, SaveThenLoadKeepsEveryField) {
  TempDir dir;
  const SweepRecord record = Sample();
  const std::string path = SweepRecord::PathFor(dir.path() + "/workspace", record.id);
  EXPECT_EQ(path, dir.path() + "/workspace/runs/20261125-120000-ab12/sweep.yaml");
  ASSERT_TRUE(record.Save(path).ok());
  absl::StatusOr<SweepRecord> loaded = SweepRecord::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->id, record.id);
  EXPECT_EQ(loaded->tasks, record.tasks);
  EXPECT_EQ(loaded->axes, record.axes);
  EXPECT_EQ(loaded->metrics_path, record.metrics_path);
  EXPECT_EQ(loaded->created_unix_ms, record.created_unix_ms);
  ASSERT_EQ(loaded->runs.size(), 2u);
  const RunRecord& run = loaded->runs[0];
  EXPECT_EQ(run.values, record.runs[0].values);
  EXPECT_EQ(run.host, "gpu01");
  EXPECT_EQ(run.job_id, "0a1b2c3d");
  EXPECT_EQ(run.state, "FAILED");
  EXPECT_EQ(run.finished_unix_ms, 1700000004200);
  EXPECT_EQ(run.exit_code, 7);
  EXPECT_EQ(run.reason, record.runs[0].reason);
  EXPECT_EQ(run.metrics, record.runs[0].metrics);
  EXPECT_TRUE(run.finished());
  EXPECT_FALSE(loaded->runs[1].finished());
  EXPECT_FALSE(run.metrics_live);
}

TEST(SweepRecordTest, LiveMetricsKeepTheirMark) {
  TempDir dir;
  SweepRecord record = Sample();
  record.runs[1].metrics = {{"loss", "0.31"}};
  record.runs[1].metrics_live = true;
  const std::string path = SweepRecord::PathFor(dir.path(), record.id);
  ASSERT_TRUE(record.Save(path).ok());
  absl::StatusOr<SweepRecord> loaded = SweepRecord::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(loaded->runs[1].metrics_live);
  EXPECT_EQ(loaded->runs[1].metrics.at("loss"), "0.31");
}

TEST(SweepRecordTest, HostileRecordsAreOneLineErrorsNamingFileAndKey) {
  TempDir dir;
  dir.WriteFile("a/sweep.yaml", "id: x\nruns:\n  - {id: r0, exit_code: seven}\n");
  dir.WriteFile("b/sweep.yaml", "id: x\nruns: {a: 1}\n");
  dir.WriteFile("c/sweep.yaml", "[1, 2\n");
  dir.WriteFile("d/sweep.yaml", "id: x\nruns:\n  - {id: r0, values: {a: [1]}}\n");
  dir.WriteFile("e/sweep.yaml", "id: x\nruns:\n  - {id: r0, run_dir: ../../.ssh}\n");
  dir.WriteFile("f/sweep.yaml", "id: x\nmetrics: /etc/shadow\n");
  dir.WriteFile("g/sweep.yaml", "id: x\n");
  EXPECT_THAT(SweepRecord::Load(dir.path() + "/a/sweep.yaml").status().message(),
              HasSubstr("sweep.yaml: runs.0.exit_code: expected an integer"));
  EXPECT_THAT(SweepRecord::Load(dir.path() + "/b/sweep.yaml").status().message(),
              HasSubstr("runs: expected a list"));
  EXPECT_FALSE(SweepRecord::Load(dir.path() + "/c/sweep.yaml").ok());
  EXPECT_THAT(SweepRecord::Load(dir.path() + "/d/sweep.yaml").status().message(),
              HasSubstr("runs.0.values: expected scalar keys and values"));
  EXPECT_THAT(SweepRecord::Load(dir.path() + "/e/sweep.yaml").status().message(),
              HasSubstr("runs.0.run_dir: expected a workspace-relative path"));
  EXPECT_THAT(SweepRecord::Load(dir.path() + "/f/sweep.yaml").status().message(),
              HasSubstr("metrics: expected a relative path"));
  // No runs yet is a record, not an error.
  EXPECT_TRUE(SweepRecord::Load(dir.path() + "/g/sweep.yaml").ok());
}

TEST(SweepRecordTest, LoadAllListsSweepsOldestFirstAndReportsBadOnes) {
  TempDir dir;
  SweepRecord older = Sample();
  older.id = "b-older";
  older.created_unix_ms = 1;
  SweepRecord newer = Sample();
  newer.id = "a-newer";
  newer.created_unix_ms = 2;
  ASSERT_TRUE(newer.Save(SweepRecord::PathFor(dir.path(), newer.id)).ok());
  ASSERT_TRUE(older.Save(SweepRecord::PathFor(dir.path(), older.id)).ok());
  dir.WriteFile("runs/broken/sweep.yaml", "id: [\n");
  dir.WriteFile("runs/no-record/file", "x");
  std::vector<std::string> errors;
  std::vector<SweepRecord> all = SweepRecord::LoadAll(dir.path(), &errors);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, "b-older");
  EXPECT_EQ(all[1].id, "a-newer");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("broken/sweep.yaml"));
}

}  // namespace
}  // namespace mlcube
