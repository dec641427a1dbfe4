#include "common/file_tail.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/beneath_dir.h"
#include "common/file_util.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

FileTail TailOf(const std::string& content, size_t max_bytes, bool whole_lines) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/f";
  EXPECT_TRUE(WriteFileAtomically(path, content, 0644).ok());
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  absl::StatusOr<FileTail> tail = FileTail::Read(fd.get(), max_bytes, whole_lines);
  EXPECT_TRUE(tail.ok()) << tail.status();
  return tail.ok() ? *tail : FileTail{};
}

TEST(FileTailTest, SmallFileWhole) {
  FileTail tail = TailOf("loss: 0.5\n", 64, false);
  EXPECT_EQ(tail.data, "loss: 0.5\n");
  EXPECT_EQ(tail.file_size, 10);
  EXPECT_FALSE(tail.head_dropped);
  EXPECT_GT(tail.modified_unix_ms, 0);
}

TEST(FileTailTest, BoundedToTheLastBytes) {
  std::string big(1000, 'a');
  big += "0123456789";
  FileTail tail = TailOf(big, 10, false);
  EXPECT_EQ(tail.data, "0123456789");
  EXPECT_EQ(tail.file_size, 1010);
  EXPECT_TRUE(tail.head_dropped);
}

TEST(FileTailTest, WholeLinesDropACutFirstLineAndAnUnterminatedLast) {
  // The window (last 20 bytes) starts inside line 2; line 4 is being written.
  const std::string text = "{\"step\":1}\n{\"step\":2}\n{\"step\":3}\n{\"ste";
  FileTail tail = TailOf(text, 20, true);
  EXPECT_EQ(tail.data, "{\"step\":3}\n");
  EXPECT_TRUE(tail.head_dropped);
}

TEST(FileTailTest, WholeLinesKeepAFirstLineThatStartsAtTheWindow) {
  const std::string text = "aaaa\nbbbb\ncccc\n";
  FileTail tail = TailOf(text, 10, true);  // "bbbb\ncccc\n", starts after '\n'
  EXPECT_EQ(tail.data, "bbbb\ncccc\n");
}

TEST(FileTailTest, WholeLinesOfAnUnterminatedOnlyLineIsEmpty) {
  EXPECT_EQ(TailOf("{\"step\": 1", 64, true).data, "");
  // A line longer than the window: nothing whole in it.
  EXPECT_EQ(TailOf(std::string(100, 'x') + "\n", 10, true).data, "");
}

TEST(FileTailTest, EmptyFile) {
  FileTail tail = TailOf("", 64, true);
  EXPECT_EQ(tail.data, "");
  EXPECT_EQ(tail.file_size, 0);
  EXPECT_FALSE(tail.head_dropped);
}

TEST(BeneathDirOpenRegularFileTest, OpensARegularFile) {
  testing::TempDir root;
  ASSERT_TRUE(MakeDirs(root.path() + "/out/m").ok());
  ASSERT_TRUE(WriteFileAtomically(root.path() + "/out/m/x.yaml", "a: 1\n", 0644).ok());
  absl::StatusOr<BeneathDir> dir = BeneathDir::Open(root.path());
  ASSERT_TRUE(dir.ok());
  absl::StatusOr<UniqueFd> fd = dir->OpenRegularFile("out/m/x.yaml");
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(dir->OpenRegularFile("out/m/missing").status().code(), absl::StatusCode::kNotFound);
}

TEST(BeneathDirOpenRegularFileTest, RefusesLinksFifosDirectoriesAndHardLinks) {
  testing::TempDir outside;
  testing::TempDir root;
  const std::string secret = outside.path() + "/secret";
  ASSERT_TRUE(WriteFileAtomically(secret, "secret: 42\n", 0644).ok());
  ASSERT_TRUE(MakeDirs(root.path() + "/out").ok());
  ASSERT_EQ(symlink(secret.c_str(), (root.path() + "/out/link.yaml").c_str()), 0);
  ASSERT_EQ(symlink(outside.path().c_str(), (root.path() + "/out/dirlink").c_str()), 0);
  ASSERT_EQ(mkfifo((root.path() + "/out/fifo").c_str(), 0644), 0);
  ASSERT_TRUE(WriteFileAtomically(root.path() + "/out/a", "a: 1\n", 0644).ok());
  ASSERT_EQ(link((root.path() + "/out/a").c_str(), (root.path() + "/out/b").c_str()), 0);
  absl::StatusOr<BeneathDir> dir = BeneathDir::Open(root.path());
  ASSERT_TRUE(dir.ok());
  // What is refused, and the path the message names.
  const std::pair<const char*, const char*> cases[] = {{"out/link.yaml", "out/link.yaml"},
                                                       {"out/dirlink/secret", "out/dirlink"},
                                                       {"out/fifo", "out/fifo"},
                                                       {"out", "out"},
                                                       {"out/b", "out/b"}};
  for (const auto& refused : cases) {
    absl::StatusOr<UniqueFd> fd = dir->OpenRegularFile(refused.first);
    EXPECT_EQ(fd.status().code(), absl::StatusCode::kFailedPrecondition) << refused.first;
    EXPECT_NE(fd.status().message().find(refused.second), std::string::npos) << fd.status();
  }
  EXPECT_FALSE(dir->OpenRegularFile("../x").ok());
  EXPECT_FALSE(dir->OpenRegularFile("/etc/passwd").ok());
}

}  // namespace
}  // namespace mlcube
