#include "controller/sweeps/runs_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mlcube {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

RunRecord MakeRun(const std::string& id, const std::string& lr, const std::string& host,
                  const std::string& state, const std::string& accuracy) {
  RunRecord run;
  run.id = id;
  run.values = {{"p:lr", lr}};
  run.host = host;
  run.job_id = "00000012";
  run.state = state;
  run.started_unix_ms = 1000;
  run.finished_unix_ms = state == "RUNNING" ? 0 : 3500;
  run.exit_code = state == "FAILED" ? 7 : 0;
  if (!accuracy.empty()) run.metrics["accuracy"] = accuracy;
  return run;
}

SweepRecord Sweep() {
  SweepRecord sweep;
  sweep.id = "s1";
  sweep.axes = {"p:lr"};
  sweep.runs = {MakeRun("r000", "0.1", "a", "SUCCEEDED", "0.8"),
                MakeRun("r001", "0.01", "b", "FAILED", ""),
                MakeRun("r002", "0.001", "a", "SUCCEEDED", "0.95"),
                MakeRun("r003", "0.5", "a", "RUNNING", "10")};
  return sweep;
}

std::vector<std::string> Column(const RunsTable& table, const std::string& name) {
  const size_t c =
      std::find(table.columns().begin(), table.columns().end(), name) - table.columns().begin();
  std::vector<std::string> cells;
  for (const auto& row : table.rows()) cells.push_back(row.at(c));
  return cells;
}

TEST(RunsTableTest, OneRowPerRunWithValuesStateAndMetrics) {
  absl::StatusOr<RunsTable> table = RunsTable::Build({Sweep()}, {}, 6000);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(table->columns(), ElementsAre("id", "p:lr", "host", "job", "state", "duration_s",
                                            "exit_code", "metrics", "accuracy"));
  EXPECT_THAT(Column(*table, "id"), ElementsAre("s1/r000", "s1/r001", "s1/r002", "s1/r003"));
  EXPECT_THAT(Column(*table, "duration_s"), ElementsAre("2.5", "2.5", "2.5", "5.0"));
  // A run still going has no exit code yet.
  EXPECT_THAT(Column(*table, "exit_code"), ElementsAre("0", "7", "0", ""));
  EXPECT_THAT(table->RenderText(), HasSubstr("s1/r001  0.01   b     00000012  FAILED"));
}

TEST(RunsTableTest, SortsNumericallyDescendingWithEmptiesLastAndFilters) {
  RunsTableOptions options;
  options.sort = "-accuracy";
  absl::StatusOr<RunsTable> table = RunsTable::Build({Sweep()}, options, 6000);
  ASSERT_TRUE(table.ok());
  // "10" > "0.95" as numbers, not as text.
  EXPECT_THAT(Column(*table, "accuracy"), ElementsAre("10", "0.95", "0.8", ""));
  options.sort = "p:lr";
  options.host = "a";
  table = RunsTable::Build({Sweep()}, options, 6000);
  ASSERT_TRUE(table.ok());
  EXPECT_THAT(Column(*table, "p:lr"), ElementsAre("0.001", "0.1", "0.5"));
  options = {};
  options.state = "failed";
  EXPECT_EQ(RunsTable::Build({Sweep()}, options, 0)->rows().size(), 1u);
  options = {};
  options.sort = "-nosuch";
  absl::StatusOr<RunsTable> bad = RunsTable::Build({Sweep()}, options, 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("--sort=-nosuch: no column 'nosuch' (columns: id"));
}

TEST(RunsTableTest, JsonAndCsvForScripts) {
  SweepRecord sweep = Sweep();
  sweep.runs.resize(2);
  sweep.runs[1].values[0].second = "a,\"b\"";
  absl::StatusOr<RunsTable> table = RunsTable::Build({sweep}, {}, 0);
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->RenderJson(),
            "[\n  {\"id\": \"s1/r000\", \"p:lr\": 0.1, \"host\": \"a\", \"job\": \"00000012\", "
            "\"state\": \"SUCCEEDED\", \"duration_s\": 2.5, \"exit_code\": 0, \"metrics\": "
            "\"pulled\", \"accuracy\": 0.8},"
            "\n  {\"id\": \"s1/r001\", \"p:lr\": \"a,\\\"b\\\"\", \"host\": \"b\", \"job\": "
            "\"00000012\", \"state\": \"FAILED\", \"duration_s\": 2.5, \"exit_code\": 7}\n]\n");
  EXPECT_THAT(table->RenderCsv(),
              HasSubstr("s1/r001,\"a,\"\"b\"\"\",b,00000012,FAILED,2.5,7,,\r\n"));
  EXPECT_EQ(RunsTable::Build({}, {}, 0)->RenderJson(), "[]\n");
}

TEST(RunsTableTest, LiveMetricsAreMarkedInTextAndNamedInTheMetricsColumn) {
  SweepRecord sweep = Sweep();
  sweep.runs[3].metrics = {{"accuracy", "0.31"}};
  sweep.runs[3].metrics_live = true;
  absl::StatusOr<RunsTable> table = RunsTable::Build({sweep}, {}, 6000);
  ASSERT_TRUE(table.ok());
  EXPECT_THAT(Column(*table, "metrics"), ElementsAre("pulled", "", "pulled", "live"));
  // The cell itself stays a number: it sorts and exports as one.
  EXPECT_THAT(Column(*table, "accuracy"), ElementsAre("0.8", "", "0.95", "0.31"));
  const std::string text = table->RenderText();
  EXPECT_THAT(text, HasSubstr("live     ~0.31"));
  EXPECT_THAT(text, HasSubstr("pulled   0.8"));
  EXPECT_THAT(table->RenderJson(), HasSubstr("\"metrics\": \"live\", \"accuracy\": 0.31}"));
}

// A thousand runs sort on a metric and render one line each. How long that
// takes is measured by tools/bench/runs_bench.sh (the `runs` command over
// 1,000 finished runs, target under 200 ms), not asserted here.
TEST(RunsTableTest, AThousandFinishedRunsSortOnAMetricAndRenderEveryRow) {
  SweepRecord sweep;
  sweep.id = "big";
  sweep.axes = {"p:lr", "p:batch"};
  for (int i = 0; i < 1000; ++i) {
    RunRecord run = MakeRun(absl::StrCat("r", i), absl::StrCat(i * 0.001), "a", "SUCCEEDED",
                            absl::StrCat((i * 7919) % 1000 / 1000.0));
    run.values.emplace_back("p:batch", absl::StrCat(32 << (i % 3)));
    run.metrics["loss"] = absl::StrCat(1.0 / (i + 1));
    sweep.runs.push_back(run);
  }
  RunsTableOptions options;
  options.sort = "-accuracy";
  absl::StatusOr<RunsTable> table = RunsTable::Build({sweep}, options, 0);
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->rows().size(), 1000u);
  // 7919 is prime to 1000: the accuracies are 0.000 to 0.999, each once.
  const std::vector<std::string> accuracy = Column(*table, "accuracy");
  EXPECT_EQ(accuracy.front(), "0.999");
  EXPECT_EQ(accuracy.back(), "0");
  for (size_t i = 1; i < accuracy.size(); ++i) {
    double before = 0, now = 0;
    ASSERT_TRUE(absl::SimpleAtod(accuracy[i - 1], &before) && absl::SimpleAtod(accuracy[i], &now));
    EXPECT_GT(before, now) << "rows " << i - 1 << " and " << i;
  }
  const std::string text = table->RenderText();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1001) << "a header and one line per run";
}

}  // namespace
}  // namespace mlcube
