// The Prometheus text the agent's metrics endpoint writes: escaping,
// histograms, job statistics and the metrics config keys.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/config/agent_config.h"
#include "agent/metrics/exposition.h"
#include "agent/metrics/histogram.h"
#include "agent/metrics/job_statistics.h"
#include "agent/metrics/rpc_metrics.h"

namespace mlcube {
namespace {

using ::testing::HasSubstr;

TEST(PrometheusTextTest, LabelValuesAndHelpAreEscaped) {
  PrometheusText out;
  out.Family("m_total", "counter", "a\\b\nc");
  out.Sample("m_total", {{"who", "a\"b\\c\nd"}}, 3);
  out.Sample("m_total", 0.25);
  EXPECT_EQ(out.text(),
            "# HELP m_total a\\\\b\\nc\n# TYPE m_total counter\n"
            "m_total{who=\"a\\\"b\\\\c\\nd\"} 3\nm_total 0.25\n");
}

TEST(HistogramTest, BucketsAreCumulativeWithInfSumAndCount) {
  Histogram h({1, 10});
  h.Observe(0.5);
  h.Observe(5);
  h.Observe(50);
  PrometheusText out;
  h.Write("d_seconds", {{"k", "v"}}, &out);
  EXPECT_EQ(out.text(),
            "d_seconds_bucket{k=\"v\",le=\"1\"} 1\nd_seconds_bucket{k=\"v\",le=\"10\"} 2\n"
            "d_seconds_bucket{k=\"v\",le=\"+Inf\"} 3\nd_seconds_sum{k=\"v\"} 55.5\n"
            "d_seconds_count{k=\"v\"} 3\n");
}

TEST(JobStatisticsTest, FinishedJobsAreCountedByOutcomeRuntimeAndScheduler) {
  JobStatistics stats;
  stats.RecordFinished({"succeeded", "docker", "local", 2, 0.05});
  stats.RecordFinished({"succeeded", "docker", "local", 3, 0.05});
  stats.RecordFinished({"cancelled", "singularity", "slurm", -1, -1});  // never ran
  PrometheusText out;
  stats.Write(&out);
  EXPECT_THAT(out.text(), HasSubstr("mlcube_agent_jobs_finished_total{outcome=\"succeeded\","
                                    "runtime=\"docker\",scheduler=\"local\"} 2\n"));
  EXPECT_THAT(out.text(), HasSubstr("mlcube_agent_jobs_finished_total{outcome=\"cancelled\","
                                    "runtime=\"singularity\",scheduler=\"slurm\"} 1\n"));
  // Only jobs that ran have a duration.
  EXPECT_THAT(out.text(), HasSubstr("mlcube_agent_job_duration_seconds_count 2\n"));
  EXPECT_THAT(out.text(), HasSubstr("mlcube_agent_job_duration_seconds_sum 5\n"));
}

TEST(RpcMetricsTest, CodesUseGoGrpcPrometheusNames) {
  EXPECT_EQ(GrpcCodeName(0), "OK");
  EXPECT_EQ(GrpcCodeName(1), "Canceled");
  EXPECT_EQ(GrpcCodeName(16), "Unauthenticated");
  EXPECT_EQ(GrpcCodeName(99), "Unknown");
}

TEST(MetricsConfigTest, ListenAndIdentityLabelsAreReadAndOthersRefused) {
  auto config = ParseAgentConfig("metrics: {listen: \"127.0.0.1:9464\", identity_labels: true}\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->metrics.listen, "127.0.0.1:9464");
  EXPECT_TRUE(config->metrics.identity_labels);
  EXPECT_TRUE(ParseAgentConfig("{}\n")->metrics.listen.empty());
  auto bad = ParseAgentConfig("metrics: {port: 9464}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("agent.yaml: metrics.port: unknown"));
}

}  // namespace
}  // namespace mlcube
