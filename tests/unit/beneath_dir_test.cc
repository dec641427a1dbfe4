#include "common/beneath_dir.h"

#include <fcntl.h>
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

TEST(BeneathDirTest, OpenParentMakesTheDirectoriesAndNamesTheLeaf) {
  testing::TempDir outside;
  testing::TempDir root;
  absl::StatusOr<BeneathDir> dir = BeneathDir::Open(root.path());
  ASSERT_TRUE(dir.ok());
  absl::StatusOr<BeneathDir::Parent> parent = dir->OpenParent("out/a/file.txt", /*create=*/true);
  ASSERT_TRUE(parent.ok()) << parent.status();
  EXPECT_EQ(parent->name, "file.txt");
  EXPECT_TRUE(Exists(root.path() + "/out/a"));
  absl::StatusOr<BeneathDir::Parent> top = dir->OpenParent("top", /*create=*/false);
  ASSERT_TRUE(top.ok()) << top.status();
  EXPECT_EQ(top->name, "top");
  ASSERT_EQ(symlink(outside.path().c_str(), (root.path() + "/out/link").c_str()), 0);
  EXPECT_EQ(dir->OpenParent("out/link/x", true).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(Exists(outside.path() + "/x"));
}

TEST(BeneathDirTest, CreateFileAtNeverOpensWhatLiesAtTheName) {
  testing::TempDir outside;
  testing::TempDir root;
  outside.WriteFile("target", "kept\n");
  UniqueFd dir(open(root.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(dir);
  ASSERT_EQ(symlink((outside.path() + "/target").c_str(), (root.path() + "/t1").c_str()), 0);
  ASSERT_EQ(mkfifo((root.path() + "/t2").c_str(), 0644), 0);
  for (const char* name : {"t1", "t2"}) {
    absl::StatusOr<UniqueFd> fd = CreateFileAt(dir.get(), name, name);
    ASSERT_TRUE(fd.ok()) << fd.status();
    ASSERT_EQ(write(fd->get(), "new", 3), 3);
    struct stat st;
    ASSERT_EQ(lstat((root.path() + "/" + name).c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode)) << name;
  }
  EXPECT_EQ(testing::ReadFileContent(outside.path() + "/target"), "kept\n");
  ASSERT_EQ(mkdir((root.path() + "/d").c_str(), 0755), 0);
  EXPECT_FALSE(CreateFileAt(dir.get(), "d", "d").ok());
}

TEST(BeneathDirTest, OpenRegularAtRefusesLinksAndFifosWithoutBlocking) {
  testing::TempDir root;
  root.WriteFile("file", "x");
  UniqueFd dir(open(root.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_EQ(symlink("file", (root.path() + "/link").c_str()), 0);
  ASSERT_EQ(mkfifo((root.path() + "/fifo").c_str(), 0644), 0);
  EXPECT_TRUE(OpenRegularAt(dir.get(), "file", "file").ok());
  EXPECT_EQ(OpenRegularAt(dir.get(), "link", "link").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(OpenRegularAt(dir.get(), "fifo", "fifo").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(OpenRegularAt(dir.get(), "none", "none").status().code(), absl::StatusCode::kNotFound);
}

TEST(BeneathDirTest, ReplaceWithSymlinkAtReplacesALinkAndRefusesADirectory) {
  testing::TempDir root;
  UniqueFd dir(open(root.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_EQ(symlink("old", (root.path() + "/l").c_str()), 0);
  ASSERT_TRUE(ReplaceWithSymlinkAt(dir.get(), "l", "new", ".tmp-l", "l").ok());
  char target[16] = {};
  ASSERT_EQ(readlink((root.path() + "/l").c_str(), target, sizeof(target) - 1), 3);
  EXPECT_STREQ(target, "new");
  ASSERT_EQ(mkdir((root.path() + "/d").c_str(), 0755), 0);
  EXPECT_FALSE(ReplaceWithSymlinkAt(dir.get(), "d", "x", ".tmp-d", "d").ok());
  EXPECT_FALSE(Exists(root.path() + "/.tmp-d"));
}

}  // namespace
}  // namespace mlcube
