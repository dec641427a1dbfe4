// RankFilter: the lines of some ranks of a job, whole lines only, across
// chunks that end mid-line; ParseRankList's grammar.

#include "controller/remote/rank_filter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mlcube {
namespace {

using ::testing::ElementsAre;

TEST(RankFilterTest, KeepsTheAskedRanksAndEveryUnprefixedLine) {
  RankFilter filter({0, 2});
  EXPECT_EQ(filter.Filter(1,
                          "mlcube-agent: 4 ranks on 2 node(s)\n[rank 0] a\n[rank 1] b\n"
                          "[rank 2] c\n[rank 10] d\n[rank x] e\n"),
            "mlcube-agent: 4 ranks on 2 node(s)\n[rank 0] a\n[rank 2] c\n[rank x] e\n");
}

TEST(RankFilterTest, AChunkEndingMidLineIsHeldUntilItsEndPerStream) {
  RankFilter filter({1});
  EXPECT_EQ(filter.Filter(1, "[rank 1] one\n[ra"), "[rank 1] one\n");
  EXPECT_EQ(filter.Filter(2, "[rank 0] err\n[rank 1] e"), "");
  EXPECT_EQ(filter.Filter(1, "nk 0] skipped\n[rank 1] two"), "");
  EXPECT_EQ(filter.Filter(1, "\n"), "[rank 1] two\n");
  EXPECT_EQ(filter.Flush(2), "[rank 1] e");  // the last line, without its newline
  EXPECT_EQ(filter.Flush(2), "");
  EXPECT_EQ(filter.Filter(1, "[rank 0] last"), "");
  EXPECT_EQ(filter.Flush(1), "");
}

TEST(RankFilterTest, NoRanksPassesTheBytesAsTheyCome) {
  RankFilter filter({});
  EXPECT_TRUE(filter.PassesAll());
  EXPECT_EQ(filter.Filter(1, "[rank 3] par"), "[rank 3] par");
  EXPECT_EQ(filter.Flush(1), "");
}

TEST(RankFilterTest, ParsesRanksAndRanges) {
  auto ranks = ParseRankList("0,2-4,2");
  ASSERT_TRUE(ranks.ok()) << ranks.status();
  EXPECT_THAT(*ranks, ElementsAre(0, 2, 3, 4));
  for (const char* bad : {"", "a", "1,", "-1", "3-1", "1-", "0x1", "2-2000000", " 1"}) {
    auto parsed = ParseRankList(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(parsed.status().message()), ::testing::HasSubstr("--ranks="));
  }
}

}  // namespace
}  // namespace mlcube
