#include "common/beneath_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

TEST(BeneathDirTest, CreatesNestedDirectoriesBelowTheRoot) {
  testing::TempDir root;
  absl::StatusOr<BeneathDir> dir = BeneathDir::Open(root.path());
  ASSERT_TRUE(dir.ok()) << dir.status();
  absl::StatusOr<UniqueFd> fd = dir->OpenDir("out/a/b", /*create=*/true);
  ASSERT_TRUE(fd.ok()) << fd.status();
  struct stat st;
  ASSERT_EQ(fstat(fd->get(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_TRUE(Exists(root.path() + "/out/a/b"));
  // Existing: opened, not an error.
  EXPECT_TRUE(dir->OpenDir("out/a", false).ok());
  EXPECT_EQ(dir->OpenDir("missing", false).status().code(), absl::StatusCode::kNotFound);
}

TEST(BeneathDirTest, RefusesAPlantedSymlinkAndCreatesNothingOutside) {
  testing::TempDir outside;
  testing::TempDir root;
  ASSERT_EQ(mkdir((root.path() + "/out").c_str(), 0755), 0);
  ASSERT_EQ(symlink(outside.path().c_str(), (root.path() + "/out/evil").c_str()), 0);
  absl::StatusOr<BeneathDir> dir = BeneathDir::Open(root.path());
  ASSERT_TRUE(dir.ok());
  absl::StatusOr<UniqueFd> fd = dir->OpenDir("out/evil/x", /*create=*/true);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(fd.status().message().find("'out/evil'"), std::string::npos) << fd.status();
  EXPECT_NE(fd.status().message().find("symbolic link"), std::string::npos) << fd.status();
  EXPECT_FALSE(Exists(outside.path() + "/x"));
  // A symlink to a directory inside the root is refused as well (it could be
  // swapped for one that leads out).
  ASSERT_EQ(symlink("out", (root.path() + "/inner").c_str()), 0);
  EXPECT_FALSE(dir->OpenDir("inner", false).ok());
  // The same through MakeDirsBeneath, as the job manager calls it.
  absl::Status made = MakeDirsBeneath(root.path(), {root.path() + "/out/evil/y"});
  EXPECT_FALSE(made.ok());
  EXPECT_FALSE(Exists(outside.path() + "/y"));
}

TEST(BeneathDirTest, RefusesPathsThatLeaveTheRootLexically) {
  testing::TempDir root;
  absl::StatusOr<BeneathDir> dir = BeneathDir::Open(root.path());
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(dir->OpenDirPath(root.path() + "/../x", true).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(dir->OpenDir("../x", true).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(dir->OpenDir("/etc", true).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(dir->OpenDirPath(root.path(), false).ok());
  EXPECT_TRUE(dir->OpenDirPath(root.path() + "/new/dir", true).ok());
}

}  // namespace
}  // namespace mlcube
