#include "common/directory_tree.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "common/tree_walker.h"
#include "common/unique_fd.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

// Makes `levels` nested directories "d" below `root` (as a task could, one
// openat at a time) with a 5-byte file "f" at the bottom.
void MakeDeepTree(const std::string& root, int levels) {
  UniqueFd cur(open(root.c_str(), kDirFlags));
  ASSERT_TRUE(cur);
  for (int i = 0; i < levels; ++i) {
    ASSERT_EQ(mkdirat(cur.get(), "d", 0755), 0) << "level " << i;
    cur.Reset(openat(cur.get(), "d", kDirFlags));
    ASSERT_TRUE(cur) << "level " << i;
  }
  UniqueFd f(openat(cur.get(), "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  ASSERT_TRUE(f);
  ASSERT_EQ(write(f.get(), "12345", 5), 5);
}

// Deeper than the process may open fds (a walk holding one per level, or
// recursing, fails); 3,000 levels keep the test quick (removing a deep chain
// costs a few ms per level on ext4). The 20,000-level case runs against
// the real agent in the sync integration tests.
TEST(DirectoryTreeTest, HandlesATreeDeeperThanTheFdLimit) {
  struct rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  struct rlimit low = saved;
  low.rlim_cur = 256;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  testing::TempDir dir;
  const std::string root = dir.path() + "/deep";
  ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
  MakeDeepTree(root, 3'000);

  absl::StatusOr<int64_t> bytes = TreeBytes(root);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, 5);

  EXPECT_EQ(RemoveNamedBelow(root, "f"), 1);
  absl::Status removed = RemoveTree(root);
  ASSERT_TRUE(removed.ok()) << removed;
  struct stat st;
  EXPECT_NE(lstat(root.c_str(), &st), 0);
  setrlimit(RLIMIT_NOFILE, &saved);
}

TEST(DirectoryTreeTest, LimitsEndInAnErrorNamingThem) {
  testing::TempDir dir;
  MakeDeepTree(dir.path(), 50);
  TreeLimits shallow;
  shallow.max_depth = 10;
  absl::StatusOr<int64_t> bytes = TreeBytes(dir.path(), shallow);
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(bytes.status().message().find("deeper than 10 levels"), std::string::npos)
      << bytes.status();

  TreeLimits few;
  few.max_entries = 20;
  bytes = TreeBytes(dir.path(), few);
  ASSERT_FALSE(bytes.ok());
  EXPECT_NE(bytes.status().message().find("more than 20 entries"), std::string::npos)
      << bytes.status();
}

TEST(DirectoryTreeTest, NeverFollowsASymlink) {
  testing::TempDir outside;
  outside.WriteFile("victim/secret", "keep me");
  testing::TempDir dir;
  dir.WriteFile("a/file", "xyz");
  ASSERT_EQ(symlink((outside.path() + "/victim").c_str(), (dir.path() + "/a/link").c_str()), 0);
  absl::StatusOr<int64_t> bytes = TreeBytes(dir.path());
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, 3);
  EXPECT_EQ(RemoveNamedBelow(dir.path(), "secret"), 0);
  ASSERT_TRUE(RemoveTree(dir.path() + "/a").ok());
  EXPECT_EQ(testing::ReadFileContent(outside.path() + "/victim/secret"), "keep me");
}

TEST(TreeWalkerTest, VisitsEveryEntryWithItsPathAndCallsLeaveAfterward) {
  testing::TempDir dir;
  dir.WriteFile("a/b/c.txt", "1");
  dir.WriteFile("a/d.txt", "2");
  dir.WriteFile("e.txt", "3");
  UniqueFd root(open(dir.path().c_str(), kDirFlags));
  std::vector<std::string> seen, left;
  TreeWalker walker{TreeLimits()};
  absl::Status s = walker.Walk(
      root.get(), "test",
      [&](const TreeWalker::Entry& e) -> absl::StatusOr<TreeWalker::Next> {
        seen.push_back(e.rel);
        return TreeWalker::Next::kDescend;
      },
      [&](int, const std::string&, const std::string& rel) {
        left.push_back(rel);
        return absl::OkStatus();
      });
  ASSERT_TRUE(s.ok()) << s;
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "a/b", "a/b/c.txt", "a/d.txt", "e.txt"}));
  EXPECT_EQ(left, (std::vector<std::string>{"a/b", "a"}));
  EXPECT_EQ(walker.entries_visited(), 5);
}

}  // namespace
}  // namespace mlcube
