#include "controller/sync/pull_scope.h"

#include <gtest/gtest.h>

#include <string>

#include "common/digest.h"
#include "controller/sync/sync_options.h"

namespace mlcube {
namespace {

namespace v1 = ::mlcube_remote::v1;

TEST(PullScopeTest, ContainsOnlyTheRootsAndWhatLiesBelowThem) {
  const PullScope scope = PullScope::Below({"out", "logs/run.log", "../bad", ""});
  EXPECT_TRUE(scope.Contains("out"));
  EXPECT_TRUE(scope.Contains("out/a/b"));
  EXPECT_TRUE(scope.Contains("logs/run.log"));
  EXPECT_FALSE(scope.Contains("outx"));
  EXPECT_FALSE(scope.Contains("logs"));
  EXPECT_FALSE(scope.Contains("logs/run.log2"));
  EXPECT_FALSE(scope.Contains("bad"));
  EXPECT_FALSE(scope.Contains("runs/S/sweep.yaml"));
}

TEST(PullScopeTest, AJobPullWithoutExpectedOutputsPlacesNothing) {
  PullOptions options;
  EXPECT_TRUE(PullScope::For(options).Contains("anything"));
  options.job_id = "job-1";
  EXPECT_FALSE(PullScope::For(options).Contains("anything"));
  options.outputs = {"out"};
  options.paths = {"extra"};
  EXPECT_TRUE(PullScope::For(options).Contains("out/x"));
  EXPECT_TRUE(PullScope::For(options).Contains("extra"));
}

TEST(PullScopeTest, FilterKeepsOrderAndNamesTheFirstDroppedInOneLine) {
  v1::Manifest manifest;
  auto add = [&](const std::string& path) {
    v1::ManifestEntry* e = manifest.add_entries();
    e->set_path(path);
    e->set_type(v1::ENTRY_TYPE_FILE);
    *e->mutable_digest() = DigestOf("x");
  };
  add("out/a");
  for (int i = 0; i < 12; ++i) add("junk/" + std::to_string(i));
  add("out/b\nc");
  add("out/z");
  PullScope::Dropped dropped;
  v1::Manifest kept = PullScope::Below({"out"}).Filter(&manifest, &dropped);
  ASSERT_EQ(kept.entries_size(), 2);
  EXPECT_EQ(kept.entries(0).path(), "out/a");
  EXPECT_EQ(kept.entries(1).path(), "out/z");
  EXPECT_EQ(dropped.count, 13);
  const std::string warning = dropped.Warning("left out:");
  EXPECT_EQ(warning.find('\n'), std::string::npos);
  EXPECT_NE(warning.find("left out: 13 entries: 'junk/0'"), std::string::npos) << warning;
  EXPECT_NE(warning.find("and 3 more"), std::string::npos) << warning;
  EXPECT_EQ(PullScope::Dropped().Warning("left out:"), "");
}

}  // namespace
}  // namespace mlcube
