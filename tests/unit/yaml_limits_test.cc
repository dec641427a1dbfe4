// The one YAML reader refuses hostile documents before anything walks them:
// alias bombs, cycles, deep nesting, too many nodes, oversized files; and
// still reads ordinary anchors.

#include "common/yaml_limits.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/config/agent_config.h"
#include "common/file_util.h"
#include "common/yaml_reader.h"
#include "controller/sweeps/metrics_reader.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::TempDir;

// "Billion laughs": each level is a list of nine aliases of the one before,
// so `levels` levels expand to 9^levels scalars from a few hundred bytes.
std::string AliasBomb(int levels, const std::string& key_prefix = "") {
  std::string text = absl::StrCat(key_prefix, "l0: &l0 [x, x, x, x, x, x, x, x, x]\n");
  for (int i = 1; i <= levels; ++i) {
    const std::string a = absl::StrCat("*l", i - 1);
    text += absl::StrCat(key_prefix, "l", i, ": &l", i, " [", a, ", ", a, ", ", a, ", ", a, ", ", a,
                         ", ", a, ", ", a, ", ", a, ", ", a, "]\n");
  }
  return text;
}

// Refused in one line that names the file and a line in it.
void ExpectOneLineRefusal(const absl::Status& status, const std::string& file,
                          const std::string& what) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StartsWith(status.message(), file)) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), what)) << status;
  EXPECT_FALSE(absl::StrContains(status.message(), "\n")) << status;
}

TEST(YamlLimitsTest, AliasBombIsRefusedAtItsFirstAliasPastTheBudget) {
  const std::string bomb = AliasBomb(7);
  ASSERT_LT(bomb.size(), 500u);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<YAML::Node> node = ParseYaml(bomb, "metrics.yaml");
  ExpectOneLineRefusal(node.status(), "metrics.yaml", "aliases expand to more than 10000 nodes");
  // Levels 1-3 add 8289 nodes, the first alias of level 4 (line 5) 7381 more.
  EXPECT_TRUE(absl::StartsWith(node.status().message(), "metrics.yaml:5:")) << node.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(YamlLimitsTest, AliasedLongScalarsAreBoundedByBytes) {
  std::string text = absl::StrCat("big: &big ", std::string(100000, 'y'), "\nall: [");
  for (int i = 0; i < 20; ++i) text += "*big, ";
  text += "]\n";
  ExpectOneLineRefusal(ParseYaml(text, "params.yaml").status(),
                       "params.yaml:2:", "aliases expand to more than 1048576 bytes");
}

TEST(YamlLimitsTest, AliasInsideItsOwnAnchorIsRefused) {
  // yaml-cpp builds a cyclic node for this; any recursive walk never ends.
  ExpectOneLineRefusal(ParseYaml("a: &a [1, *a]\n", "sweep.yaml").status(),
                       "sweep.yaml:1:", "a cycle");
  ExpectOneLineRefusal(ParseYaml("a: &a {k: {j: *a}}\n", "sweep.yaml").status(), "sweep.yaml",
                       "a cycle");
}

TEST(YamlLimitsTest, DeepFlowNestingIsRefusedNamingTheLimit) {
  ExpectOneLineRefusal(ParseYaml(std::string(100000, '['), "hosts.yaml").status(),
                       "hosts.yaml:1:", "nested deeper than 64 levels");
  std::string blocks;
  for (int i = 0; i < 200; ++i) blocks += std::string(i, ' ') + "a:\n";
  ExpectOneLineRefusal(ParseYaml(blocks, "mlcube.yaml").status(),
                       "mlcube.yaml:65:", "nested deeper than 64 levels");
}

TEST(YamlLimitsTest, DepthCountsWhatAliasesExpandTo) {
  // Each line is shallow; followed through its aliases the last is 80 deep.
  std::string chain = "- &a0 [x]\n";
  for (int i = 1; i < 80; ++i) chain += absl::StrCat("- &a", i, " [*a", i - 1, "]\n");
  ExpectOneLineRefusal(ParseYaml(chain, "run.yaml").status(), "run.yaml",
                       "nested deeper than 64 levels");
}

TEST(YamlLimitsTest, NodeCountAndTextSizeAreBounded) {
  YamlLimits small;
  small.max_nodes = 10;
  ExpectOneLineRefusal(ParseYaml("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]", "m.yaml", small).status(),
                       "m.yaml:1:", "more than 10 nodes");
  small.max_bytes = 8;
  EXPECT_TRUE(absl::StrContains(ParseYaml("[1, 2, 3, 4]", "m.yaml", small).status().message(),
                                "over the limit of 8 bytes"));
  TempDir dir;
  const std::string path = dir.path() + "/big.yaml";
  ASSERT_TRUE(WriteFileAtomically(path, std::string(200000, '#')).ok());
  small.max_bytes = 100000;
  absl::StatusOr<YAML::Node> read = ReadYamlFile(path, "big.yaml", small);
  EXPECT_TRUE(absl::StrContains(read.status().message(), "over the limit of 100000 bytes"))
      << read.status();
}

TEST(YamlLimitsTest, OrdinaryAnchorsAndDocumentsStillParse) {
  const std::string text =
      "defaults: &defaults {image: busybox, gpus: 0, args: [--a, --b]}\n"
      "train: {<<: *defaults, name: train}\n"
      "eval: *defaults\n"
      "lists: [&one 1, *one, *one]\n"
      "---\n"
      "second: [document is not read]\n";
  absl::StatusOr<YAML::Node> node = ParseYaml(text, "mlcube.yaml");
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ((*node)["eval"]["image"].Scalar(), "busybox");
  EXPECT_EQ((*node)["lists"][2].Scalar(), "1");
  std::string nested = "a:\n";
  for (int i = 1; i < 60; ++i) nested += std::string(2 * i, ' ') + "a:\n";
  EXPECT_TRUE(ParseYaml(nested, "deep-but-fine.yaml").ok());
}

TEST(YamlLimitsTest, SyntaxErrorsStayOneLineWithPosition) {
  ExpectOneLineRefusal(ParseYaml("a: [1, 2\nb: }", "bad.yaml").status(),
                       "bad.yaml:", "invalid YAML");
  // yaml-cpp quotes the offending character, a control byte here (its
  // end-of-stream marker; the fuzzer found a newline).
  ExpectOneLineRefusal(ParseYaml("q: \"\\", "esc.yaml").status(),
                       "esc.yaml:1:7:", "unknown escape character: \\x04");
}

TEST(YamlLimitsTest, MetricsFileBombFailsFast) {
  TempDir dir;
  const std::string path = dir.path() + "/results.yaml";
  ASSERT_TRUE(WriteFileAtomically(path, AliasBomb(7)).ok());
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<MetricsStep>> curve = MetricsReader::ReadCurve(path);
  ExpectOneLineRefusal(curve.status(), path, "aliases expand");
  ExpectOneLineRefusal(MetricsReader::ParseLatest(AliasBomb(7), "live.yaml").status(), "live.yaml",
                       "aliases expand");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(YamlLimitsTest, AgentConfigGoesThroughTheReader) {
  absl::StatusOr<AgentConfig> config =
      ParseAgentConfig(absl::StrCat("x_bomb:\n", AliasBomb(7, "  ")), "agent.yaml");
  ExpectOneLineRefusal(config.status(), "agent.yaml", "aliases expand");
}

}  // namespace
}  // namespace mlcube
