// A step's exit record on a filesystem the task filled: a real tmpfs of
// 256 KiB mounted for the test (as root), full to the last byte when the
// record is written.

#include "agent/schedulers/exit_record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <fstream>
#include <string>

#include "common/file_util.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

class FullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, "size=256k"), 0)
        << "mounting a tmpfs needs root: " << std::strerror(errno);
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount2(dir_.path().c_str(), MNT_DETACH);
  }

  // Writes until the filesystem says ENOSPC; true when it did.
  bool FillUp() {
    std::ofstream filler(dir_.path() + "/filler", std::ios::binary);
    const std::string block(4096, 'x');
    for (int i = 0; i < 1024 && filler.write(block.data(), block.size()); ++i) filler.flush();
    return !filler.good();
  }

  testing::TempDir dir_;
  bool mounted_ = false;
};

TEST_F(FullDiskTest, ARecordReservedBeforeTheDiskFilledIsWritten) {
  ExitRecord record = ExitRecord::Reserve(dir_.path() + "/step-0");
  ASSERT_TRUE(record.reserved());
  ASSERT_TRUE(FillUp());
  // The disk is full: a new file cannot be written any more...
  EXPECT_FALSE(WriteFileAtomically(dir_.path() + "/other", "exit 0\n").ok());
  // ...but the reserved record can.
  ASSERT_TRUE(record.Commit("exit 0\n").ok());
  absl::StatusOr<std::string> text = ReadSmallFile(dir_.path() + "/step-0.exit");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "exit 0\n");
  EXPECT_NE(::access((dir_.path() + "/step-0.exit.reserved").c_str(), F_OK), 0);
}

TEST_F(FullDiskTest, WithoutAReservationTheRecordIsWrittenWhereThereIsRoom) {
  ASSERT_TRUE(FillUp());
  ExitRecord record = ExitRecord::Reserve(dir_.path() + "/step-0");
  EXPECT_FALSE(record.reserved());
  EXPECT_EQ(::access((dir_.path() + "/step-0.exit.reserved").c_str(), F_OK), -1);
  EXPECT_FALSE(record.Commit("exit 3\n").ok());
  ::unlink((dir_.path() + "/filler").c_str());
  ExitRecord later = ExitRecord::Reserve(dir_.path() + "/step-1");
  ASSERT_TRUE(later.Commit("signal 9\n").ok());
  EXPECT_EQ(*ReadSmallFile(dir_.path() + "/step-1.exit"), "signal 9\n");
}

}  // namespace
}  // namespace mlcube
