#include "agent/access/tree_acl.h"

#include <acl/libacl.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <tuple>

#include "common/unique_fd.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr uid_t kTask = 3100555;

// The ACL of `path` as text ("user::rw-\nuser:3100555:rwx\t#effective:r--\n...").
std::string AclText(const std::string& path, acl_type_t type = ACL_TYPE_ACCESS) {
  acl_t acl = acl_get_file(path.c_str(), type);
  if (acl == nullptr) return "";
  char* text = acl_to_any_text(acl, nullptr, '\n', TEXT_NUMERIC_IDS);
  std::string out = text != nullptr ? text : "";
  acl_free(text);
  acl_free(acl);
  return out;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

TEST(TreeAclTest, DiskAndReportedModesRoundTripTheLaptopsModes) {
  for (uint32_t mode : {0644u, 0755u, 0600u, 0700u, 0664u, 0775u, 0444u, 0555u}) {
    EXPECT_EQ(TreeAcl::DiskMode(mode) & 07, 0u) << std::oct << mode;
    EXPECT_EQ(TreeAcl::ReportedMode(TreeAcl::DiskMode(mode)), mode) << std::oct << mode;
  }
  // Other's bits that differ from group's cannot be kept (documented).
  EXPECT_EQ(TreeAcl::ReportedMode(TreeAcl::DiskMode(0640)), 0644u);
}

TEST(TreeAclTest, TaskWritableModeGivesTheGroupReadWriteAndSearchOnDirectories) {
  EXPECT_EQ(TreeAcl::TaskWritableMode(S_IFREG | 0640), 0660u);
  EXPECT_EQ(TreeAcl::TaskWritableMode(S_IFREG | 0700), 0760u);
  EXPECT_EQ(TreeAcl::TaskWritableMode(S_IFDIR | 0750), 0770u);
}

TEST(TreeAclTest, APushKeepsTheTaskGrantOnlyWhereTheOwnerHasIt) {
  EXPECT_EQ(TreeAcl::KeepingTaskGrant(0640, 0660), 0660u);
  EXPECT_EQ(TreeAcl::KeepingTaskGrant(0750, 0770), 0770u);
  EXPECT_EQ(TreeAcl::KeepingTaskGrant(0440, 0660), 0440u);  // made read-only on the laptop
  EXPECT_EQ(TreeAcl::KeepingTaskGrant(0640, 0600), 0640u);  // a grant is never invented
}

TEST(TreeAclTest, GivesTheTreeTheAgentAndTaskUidsAndNobodyElse) {
  TempDir dir;
  const std::string root = dir / "ws";
  dir.WriteFile("ws/in/data.txt", "data");
  dir.WriteFile("outside.txt", "not in the tree");
  ASSERT_EQ(chmod((root + "/in/data.txt").c_str(), 0644), 0);
  ASSERT_EQ(chmod((dir / "outside.txt").c_str(), 0644), 0);
  ASSERT_EQ(symlink((dir / "outside.txt").c_str(), (root + "/in/link").c_str()), 0);
  const std::string before_outside = AclText(dir / "outside.txt");

  TreeAcl acl(geteuid(), kTask);
  ASSERT_TRUE(acl.ApplyToTree(root).ok());
  const std::string text = AclText(root + "/in/data.txt");
  EXPECT_THAT(text, HasSubstr("user:3100555:rwx"));
  EXPECT_THAT(text, HasSubstr("group::---"));
  EXPECT_THAT(text, HasSubstr("mask::r--"));  // the group bits: what the task gets
  EXPECT_THAT(text, HasSubstr("other::---"));
  EXPECT_EQ(ModeOf(root + "/in/data.txt"), 0640u);
  EXPECT_THAT(AclText(root + "/in", ACL_TYPE_DEFAULT), HasSubstr("user:3100555:rwx"));
  // The link was not followed.
  EXPECT_EQ(AclText(dir / "outside.txt"), before_outside);
  EXPECT_EQ(ModeOf(dir / "outside.txt"), 0644u);

  // What is made below later inherits it, whatever the umask.
  UniqueFd made(open((root + "/in/new.txt").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0666));
  ASSERT_TRUE(made);
  EXPECT_THAT(AclText(root + "/in/new.txt"), HasSubstr("user:3100555:rwx"));
  EXPECT_EQ(ModeOf(root + "/in/new.txt") & 07, 0u);
}

TEST(TreeAclTest, AnotherTaskUidRewalksTheTreeAndLeavesOthersFilesAlone) {
  TempDir dir;
  const std::string root = dir / "ws";
  dir.WriteFile("ws/a.txt", "a");
  dir.WriteFile("ws/task.txt", "made by the task");
  ASSERT_EQ(chown((root + "/task.txt").c_str(), kTask, kTask), 0);  // tests run as root
  ASSERT_TRUE(TreeAcl(geteuid(), geteuid()).ApplyToTree(root).ok());
  EXPECT_THAT(AclText(root + "/a.txt"), Not(HasSubstr("3100555")));
  ASSERT_TRUE(TreeAcl(geteuid(), kTask).ApplyToTree(root).ok());
  EXPECT_THAT(AclText(root + "/a.txt"), HasSubstr("user:3100555:rwx"));
  EXPECT_THAT(AclText(root + "/task.txt"), Not(HasSubstr("user:3100555")));
}

TEST(TreeAclTest, AMovedFileTakesItsDirectorysDefaultAcl) {
  TempDir dir;
  const std::string root = dir / "ws";
  ASSERT_EQ(mkdir(root.c_str(), 0700), 0);
  ASSERT_TRUE(TreeAcl(geteuid(), kTask).ApplyToTree(root).ok());
  dir.WriteFile("blob", "content");
  ASSERT_EQ(rename((dir / "blob").c_str(), (root + "/moved.txt").c_str()), 0);
  EXPECT_THAT(AclText(root + "/moved.txt"), Not(HasSubstr("3100555")));
  UniqueFd fd(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(TreeAcl::InheritFromParent(fd.get(), "moved.txt", 0640).ok());
  const std::string text = AclText(root + "/moved.txt");
  EXPECT_THAT(text, HasSubstr("user:3100555:rwx"));
  EXPECT_THAT(text, HasSubstr("mask::r--"));
  EXPECT_EQ(ModeOf(root + "/moved.txt"), 0640u);
}

TEST(TreeAclTest, ADirectorysDefaultAclReadOnceServesEachFileWithItsOwnMode) {
  TempDir dir;
  const std::string root = dir / "ws";
  const std::string plain = dir / "plain";
  ASSERT_EQ(mkdir(root.c_str(), 0700), 0);
  ASSERT_EQ(mkdir(plain.c_str(), 0700), 0);
  ASSERT_TRUE(TreeAcl(geteuid(), kTask).ApplyToTree(root).ok());
  UniqueFd fd(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  const InheritableAcl acl(fd.get());
  for (const auto& [name, mode, mask] :
       {std::tuple{"a.txt", 0640u, "mask::r--"}, std::tuple{"b.sh", 0750u, "mask::r-x"}}) {
    dir.WriteFile(name, "content");
    ASSERT_EQ(rename((dir / name).c_str(), (root + "/" + name).c_str()), 0);
    ASSERT_TRUE(acl.GiveTo(fd.get(), name, mode).ok()) << name;
    const std::string text = AclText(root + "/" + name);
    EXPECT_THAT(text, HasSubstr("user:3100555:rwx")) << name;
    EXPECT_THAT(text, HasSubstr(mask)) << name;
    EXPECT_EQ(ModeOf(root + "/" + name), mode) << name;
  }
  // Without a default ACL a file just gets its mode; a directory is refused.
  UniqueFd plain_fd(open(plain.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  const InheritableAcl none(plain_fd.get());
  dir.WriteFile("c.txt", "content");
  ASSERT_EQ(rename((dir / "c.txt").c_str(), (plain + "/c.txt").c_str()), 0);
  ASSERT_TRUE(none.GiveTo(plain_fd.get(), "c.txt", 0604).ok());
  EXPECT_EQ(ModeOf(plain + "/c.txt"), 0604u);
  EXPECT_THAT(AclText(plain + "/c.txt"), Not(HasSubstr("3100555")));
  ASSERT_EQ(mkdir((plain + "/sub").c_str(), 0700), 0);
  EXPECT_FALSE(none.GiveTo(plain_fd.get(), "sub", 0700).ok());
}

TEST(TreeAclTest, ADirectoryAloneGetsTheAclAndItsContentsDoNot) {
  TempDir dir;
  dir.WriteFile("owner/cube/file.txt", "x");
  ASSERT_EQ(chmod((dir / "owner/cube/file.txt").c_str(), 0644), 0);
  ASSERT_TRUE(TreeAcl(geteuid(), geteuid()).ApplyToDirectory(dir / "owner").ok());
  EXPECT_THAT(AclText(dir / "owner", ACL_TYPE_DEFAULT), HasSubstr("other::---"));
  EXPECT_EQ(ModeOf(dir / "owner") & 077, 0u);
  EXPECT_EQ(ModeOf(dir / "owner/cube/file.txt"), 0644u);
  EXPECT_TRUE(TreeAcl(geteuid(), geteuid()).ApplyToDirectory(dir / "new/owner").ok());
  EXPECT_THAT(AclText(dir / "new/owner", ACL_TYPE_DEFAULT), HasSubstr("other::---"));
}

}  // namespace
}  // namespace mlcube
