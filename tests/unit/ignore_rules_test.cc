#include "controller/sync/ignore_rules.h"

#include <gtest/gtest.h>

namespace mlcube {
namespace {

TEST(IgnoreRulesTest, BuiltInImagePatterns) {
  IgnoreRules rules;
  EXPECT_TRUE(rules.IsIgnored("workspace/images/model.sif", false));
  EXPECT_TRUE(rules.IsIgnored("x.simg", false));
  EXPECT_FALSE(rules.IsIgnored("workspace/data.csv", false));
}

TEST(IgnoreRulesTest, GitignoreSemantics) {
  IgnoreRules rules;
  rules.AddPatterns(
      "# comment\n"
      "*.log\n"
      "!keep.log\n"
      "/build-cache/\n"
      "data/**/*.tmp\n"
      "tmp/\n"
      "\n");
  EXPECT_TRUE(rules.IsIgnored("a/b/x.log", false));
  EXPECT_FALSE(rules.IsIgnored("a/keep.log", false));
  EXPECT_TRUE(rules.IsIgnored("build-cache", true));
  EXPECT_FALSE(rules.IsIgnored("build-cache", false));     // dir-only pattern
  EXPECT_FALSE(rules.IsIgnored("sub/build-cache", true));  // anchored at root
  EXPECT_TRUE(rules.IsIgnored("data/x.tmp", false));       // ** matches zero dirs
  EXPECT_TRUE(rules.IsIgnored("data/a/b/x.tmp", false));
  EXPECT_FALSE(rules.IsIgnored("other/x.tmp", false));
  EXPECT_TRUE(rules.IsIgnored("deep/tmp", true));  // unanchored dir pattern
}

TEST(IgnoreRulesTest, GlobMatch) {
  EXPECT_TRUE(IgnoreRules::GlobMatch("a?c", "abc"));
  EXPECT_FALSE(IgnoreRules::GlobMatch("a?c", "a/c"));
  EXPECT_TRUE(IgnoreRules::GlobMatch("[a-c]x", "bx"));
  EXPECT_FALSE(IgnoreRules::GlobMatch("[!a-c]x", "bx"));
  EXPECT_FALSE(IgnoreRules::GlobMatch("a*", "a/b"));
  EXPECT_TRUE(IgnoreRules::GlobMatch("a/**", "a/b/c"));
  EXPECT_TRUE(IgnoreRules::GlobMatch("**/c", "a/b/c"));
  EXPECT_TRUE(IgnoreRules::GlobMatch("\\*", "*"));
  EXPECT_FALSE(IgnoreRules::GlobMatch("\\*", "x"));
}

}  // namespace
}  // namespace mlcube
