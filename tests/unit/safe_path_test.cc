#include "common/safe_path.h"

#include <gtest/gtest.h>

#include <string>

namespace mlcube {
namespace {

TEST(NormalizePathTest, CollapsesDotsAndSlashes) {
  EXPECT_EQ(NormalizePath("/a//b/./c/../d"), "/a/b/d");
  EXPECT_EQ(NormalizePath("a/b/.."), "a");
  EXPECT_EQ(NormalizePath("./"), ".");
  EXPECT_EQ(NormalizePath("../x"), "../x");
  EXPECT_EQ(NormalizePath("/../x"), "/x");
  EXPECT_EQ(NormalizePath("/"), "/");
}

TEST(IsWithinTest, ChecksPrefixByComponent) {
  EXPECT_TRUE(IsWithin("/ws/data", "/ws"));
  EXPECT_TRUE(IsWithin("/ws", "/ws/"));
  EXPECT_FALSE(IsWithin("/wsx/data", "/ws"));
  EXPECT_FALSE(IsWithin("/ws/../etc", "/ws"));
  EXPECT_TRUE(IsWithin("/anything", "/"));
}

TEST(ValidateRelativePathTest, RejectsEscapes) {
  EXPECT_TRUE(ValidateRelativePath("a/b c/d.txt").ok());
  EXPECT_FALSE(ValidateRelativePath("").ok());
  EXPECT_FALSE(ValidateRelativePath("/etc/passwd").ok());
  EXPECT_FALSE(ValidateRelativePath("a/../../b").ok());
  EXPECT_FALSE(ValidateRelativePath("a//b").ok());
  EXPECT_FALSE(ValidateRelativePath("a/./b").ok());
  EXPECT_FALSE(ValidateRelativePath(std::string("a\0b", 3)).ok());
  absl::Status status = ValidateRelativePath("x/../y");
  EXPECT_NE(status.message().find("'x/../y'"), std::string::npos) << status;
}

TEST(JoinConfinedTest, JoinsOnlyValidPaths) {
  EXPECT_EQ(*JoinConfined("/ws", "a/b"), "/ws/a/b");
  EXPECT_EQ(*JoinConfined("/ws/", "a"), "/ws/a");
  EXPECT_FALSE(JoinConfined("/ws", "../a").ok());
}

}  // namespace
}  // namespace mlcube
