#include "controller/sweeps/live_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mlcube {
namespace {

using mlcube_remote::v1::Job;
using ::testing::HasSubstr;

Job WithTail(const std::string& path, const std::string& data) {
  Job job;
  job.set_metrics_path(path);
  job.mutable_metrics()->set_data(data);
  return job;
}

TEST(LiveMetricsTest, JsonLinesTailGivesTheLastStepMarkedLive) {
  RunRecord run;
  const Job job = WithTail("runs/s/r000/m/log.jsonl",
                           "{\"step\": 1, \"loss\": 0.9}\n{\"step\": 2, \"loss\": 0.31}\n");
  EXPECT_TRUE(LiveMetrics::Apply(job, &run));
  EXPECT_EQ(run.metrics.at("loss"), "0.31");
  EXPECT_EQ(run.metrics.at("step"), "2");
  EXPECT_TRUE(run.metrics_live);
  // The same values again: nothing changed.
  EXPECT_FALSE(LiveMetrics::Apply(job, &run));
}

TEST(LiveMetricsTest, YamlTailGivesItsLeaves) {
  RunRecord run;
  EXPECT_TRUE(LiveMetrics::Apply(WithTail("m/results.yaml", "dice:\n  mean: 0.7\n"), &run));
  EXPECT_EQ(run.metrics.at("dice.mean"), "0.7");
}

TEST(LiveMetricsTest, OldAgentsErrorsAndGarbageKeepTheLastGoodValues) {
  RunRecord run;
  run.metrics = {{"loss", "0.5"}};
  Job old_agent;  // predates metrics: no metrics_path echoed, no tail
  EXPECT_FALSE(LiveMetrics::Apply(old_agent, &run));
  Job refused = WithTail("m/x.yaml", "");
  refused.mutable_metrics()->set_error(
      "'m/x.yaml' in /w is a symbolic link; refusing to follow it");
  std::string error;
  EXPECT_FALSE(LiveMetrics::Apply(refused, &run, &error));
  EXPECT_THAT(error, HasSubstr("symbolic link"));
  error.clear();
  EXPECT_FALSE(LiveMetrics::Apply(WithTail("m/x.yaml", "[1, 2"), &run, &error));
  EXPECT_THAT(error, HasSubstr("m/x.yaml"));
  EXPECT_FALSE(LiveMetrics::Apply(WithTail("m/x.yaml", "just text"), &run));
  EXPECT_EQ(run.metrics.at("loss"), "0.5");
  EXPECT_FALSE(run.metrics_live);
}

}  // namespace
}  // namespace mlcube
