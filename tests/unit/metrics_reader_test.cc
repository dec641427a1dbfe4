#include "controller/sweeps/metrics_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// What a MedPerf metrics cube writes: per-label scores nested under the
// metric, a few top-level scalars, and a list.
constexpr char kMedPerfMetrics[] = R"(
AUC: 0.8732
Accuracy: 0.91
DiceScore:
  ET: {mean: 0.78, std: 0.11}
  TC: {mean: 0.83, std: 0.09}
num_cases: 125
labels: [background, tumor]
)";

TEST(MetricsReaderTest, YamlScalarLeavesBecomeDottedColumns) {
  TempDir dir;
  dir.WriteFile("results.yaml", kMedPerfMetrics);
  absl::StatusOr<std::map<std::string, std::string>> latest =
      MetricsReader::ReadLatest(dir.path() + "/results.yaml");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_THAT(*latest, UnorderedElementsAre(
                           Pair("AUC", "0.8732"), Pair("Accuracy", "0.91"),
                           Pair("DiceScore.ET.mean", "0.78"), Pair("DiceScore.ET.std", "0.11"),
                           Pair("DiceScore.TC.mean", "0.83"), Pair("DiceScore.TC.std", "0.09"),
                           Pair("num_cases", "125"), Pair("labels.0", "background"),
                           Pair("labels.1", "tumor")));
}

TEST(MetricsReaderTest, JsonWorksTheSame) {
  TempDir dir;
  dir.WriteFile("m.json", R"({"accuracy": 0.9, "loss": {"train": 0.2, "val": 0.3}})");
  absl::StatusOr<std::map<std::string, std::string>> latest =
      MetricsReader::ReadLatest(dir.path() + "/m.json");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_THAT(*latest, UnorderedElementsAre(Pair("accuracy", "0.9"), Pair("loss.train", "0.2"),
                                            Pair("loss.val", "0.3")));
}

TEST(MetricsReaderTest, JsonLinesAreCurvesAndTheLastStepIsLatest) {
  TempDir dir;
  // The task is still writing: the last line is cut short.
  dir.WriteFile("curve.jsonl",
                "{\"step\": 0, \"loss\": 1.5}\n\n{\"step\": 10, \"loss\": 0.31, \"acc\": 0.7}\n"
                "{\"step\": 20, \"lo");
  absl::StatusOr<std::vector<MetricsStep>> curve =
      MetricsReader::ReadCurve(dir.path() + "/curve.jsonl");
  ASSERT_TRUE(curve.ok()) << curve.status();
  ASSERT_EQ(curve->size(), 2u);
  EXPECT_DOUBLE_EQ((*curve)[1].at("loss"), 0.31);
  EXPECT_DOUBLE_EQ((*curve)[1].at("step"), 10);
  absl::StatusOr<std::map<std::string, std::string>> latest =
      MetricsReader::ReadLatest(dir.path() + "/curve.jsonl");
  ASSERT_TRUE(latest.ok());
  EXPECT_THAT(*latest,
              UnorderedElementsAre(Pair("step", "10"), Pair("loss", "0.31"), Pair("acc", "0.7")));
}

TEST(MetricsReaderTest, HostileFilesAreOneLineErrors) {
  TempDir dir;
  dir.WriteFile("bad.jsonl", "{\"step\": 0}\n[1, 2]\n{\"step\": 2}\n");
  dir.WriteFile("list.yaml", "- 1\n- 2\n");
  dir.WriteFile("broken.json", "{\"a\": ");
  EXPECT_THAT(MetricsReader::ReadCurve(dir.path() + "/bad.jsonl").status().message(),
              HasSubstr("bad.jsonl:2: expected a mapping of metrics, got a sequence"));
  EXPECT_THAT(MetricsReader::ReadLatest(dir.path() + "/list.yaml").status().message(),
              HasSubstr("list.yaml: expected a mapping"));
  EXPECT_EQ(MetricsReader::ReadLatest(dir.path() + "/broken.json").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsReader::ReadLatest(dir.path() + "/none.yaml").status().code(),
            absl::StatusCode::kNotFound);
  // A pulled output keeps the task's symlinks; they are never followed.
  dir.WriteFile("secret.yaml", "secret: 4242\n");
  ASSERT_EQ(symlink((dir.path() + "/secret.yaml").c_str(), (dir.path() + "/link.yaml").c_str()), 0);
  absl::StatusOr<std::map<std::string, std::string>> linked =
      MetricsReader::ReadLatest(dir.path() + "/link.yaml");
  EXPECT_THAT(linked.status().message(), HasSubstr("link.yaml: a symbolic link; not read"));
  EXPECT_FALSE(MetricsReader::ReadCurve(dir.path() + "/link.yaml").ok());
}

}  // namespace
}  // namespace mlcube
