#include "agent/job_log/job_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace mlcube {
namespace {

class JobLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/job-log-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/log";
  }
  void TearDown() override { (void)!system(("rm -rf " + dir_).c_str()); }
  std::string dir_, path_;
};

TEST_F(JobLogTest, RecordsComeBackInOrderWithContiguousOffsets) {
  auto log = JobLog::OpenForAppend(path_, 1 << 20);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE(log->Append(JobLog::RecordType::kStdout, "hello\n").ok());
  ASSERT_TRUE(log->Append(JobLog::RecordType::kStderr, "oops\n").ok());
  ASSERT_TRUE(log->Append(JobLog::RecordType::kState, std::string("\x08\x03", 2)).ok());
  auto records = JobLog::Read(path_, 0, 1 << 20);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[0].data, "hello\n");
  EXPECT_EQ((*records)[0].type, JobLog::RecordType::kStdout);
  EXPECT_EQ((*records)[1].type, JobLog::RecordType::kStderr);
  EXPECT_EQ((*records)[2].type, JobLog::RecordType::kState);
  EXPECT_EQ((*records)[0].offset, 0);
  EXPECT_EQ((*records)[1].offset, (*records)[0].next_offset);
  EXPECT_EQ((*records)[2].next_offset, JobLog::Size(path_));
  auto tail = JobLog::Read(path_, (*records)[1].offset, 1 << 20);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->size(), 2u);
  EXPECT_EQ((*tail)[0].data, "oops\n");
}

TEST_F(JobLogTest, TwoWritersOnTheSameFileNeverInterleaveInsideARecord) {
  auto a = JobLog::OpenForAppend(path_, 1 << 30);
  auto b = JobLog::OpenForAppend(path_, 1 << 30);
  ASSERT_TRUE(a.ok() && b.ok());
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(a->Append(JobLog::RecordType::kStdout, std::string(1000, 'a')).ok());
    ASSERT_TRUE(b->Append(JobLog::RecordType::kStderr, std::string(700, 'b')).ok());
  }
  int64_t offset = 0, count = 0;
  for (;;) {
    auto records = JobLog::Read(path_, offset, 4096);
    ASSERT_TRUE(records.ok());
    if (records->empty()) break;
    for (const auto& r : *records) {
      EXPECT_EQ(r.data, r.type == JobLog::RecordType::kStdout ? std::string(1000, 'a')
                                                              : std::string(700, 'b'));
      ++count;
    }
    offset = records->back().next_offset;
  }
  EXPECT_EQ(count, 200);
}

TEST_F(JobLogTest, APartialRecordAtTheEndIsNotReturnedYet) {
  auto log = JobLog::OpenForAppend(path_, 1 << 20);
  ASSERT_TRUE(log->Append(JobLog::RecordType::kStdout, "complete\n").ok());
  int fd = open(path_.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  const char partial[] = {10, 0, 0, 0, 1, 'p', 'a'};  // says 10 bytes, has 2
  ASSERT_EQ(write(fd, partial, sizeof(partial)), static_cast<ssize_t>(sizeof(partial)));
  close(fd);
  auto records = JobLog::Read(path_, 0, 1 << 20);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].data, "complete\n");
}

TEST_F(JobLogTest, BadOffsetsAreErrors) {
  auto log = JobLog::OpenForAppend(path_, 1 << 20);
  ASSERT_TRUE(log->Append(JobLog::RecordType::kStdout, std::string(100, 'x')).ok());
  EXPECT_EQ(JobLog::Read(path_, 1000, 10).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(JobLog::Read(path_, 7, 10).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(JobLog::Read(path_, -1, 10).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(JobLog::Read(dir_ + "/none", 0, 10).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(JobLogTest, KeepHeadDropsOutputPastTheCapButStateRecordsStillLand) {
  auto log = JobLog::OpenForAppend(path_, 4096, JobLog::CapPolicy::kKeepHead);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(log->Append(JobLog::RecordType::kStdout, std::string(1000, 'o')).ok());
  }
  EXPECT_TRUE(JobLog::Truncated(path_));
  ASSERT_TRUE(log->Append(JobLog::RecordType::kState, "final").ok());
  auto records = JobLog::Read(path_, 0, 1 << 20);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 6u);  // 4 outputs, the cap notice, the state
  EXPECT_EQ((*records)[4].type, JobLog::RecordType::kAgent);
  EXPECT_NE((*records)[4].data.find("cap of 4096 bytes"), std::string::npos);
  EXPECT_EQ((*records)[5].data, "final");
  EXPECT_LE(JobLog::Size(path_), 4096 + 200);
}

// Every record from `offset` to the end, checking that offsets chain.
std::vector<JobLog::Record> ReadAll(const std::string& path, int64_t offset) {
  std::vector<JobLog::Record> all;
  for (;;) {
    auto records = JobLog::Read(path, offset, 1 << 20);
    EXPECT_TRUE(records.ok()) << records.status();
    if (!records.ok() || records->empty()) return all;
    for (auto& r : *records) {
      EXPECT_EQ(r.offset, offset);
      offset = r.next_offset;
      all.push_back(std::move(r));
    }
  }
}

TEST_F(JobLogTest, AFloodKeepsItsTailWithinTheCapOnDiskWithOffsetsUnchanged) {
  constexpr int64_t kCap = 256 * 1024;
  auto log = JobLog::OpenForAppend(path_, kCap);
  ASSERT_TRUE(log.ok());
  // A follower that keeps up, reading after every write.
  std::vector<JobLog::Record> followed;
  int64_t follow_at = 0;
  for (int i = 0; i < 400; ++i) {
    const std::string line = "line " + std::to_string(i) + " " + std::string(4000, 'x') + "\n";
    ASSERT_TRUE(log->Append(JobLog::RecordType::kStdout, line).ok());
    for (auto& r : ReadAll(path_, follow_at)) {
      follow_at = r.next_offset;
      followed.push_back(std::move(r));
    }
  }
  ASSERT_TRUE(log->Append(JobLog::RecordType::kState, "final").ok());
  for (auto& r : ReadAll(path_, follow_at)) followed.push_back(std::move(r));
  // 1.6 MB written; the disk holds about the cap (plus a block of slack).
  EXPECT_GT(JobLog::Size(path_), 1600000);
  EXPECT_LE(JobLog::DiskBytes(path_), kCap + 8192);
  EXPECT_TRUE(JobLog::Truncated(path_));
  const int64_t start = JobLog::Start(path_);
  EXPECT_GT(start, JobLog::Size(path_) - kCap);
  // The follower missed nothing and saw no cut: it kept up.
  ASSERT_EQ(followed.size(), 401u);
  for (int i = 0; i < 400; ++i) {
    EXPECT_EQ(followed[i].data.substr(0, followed[i].data.find(' ', 5)),
              "line " + std::to_string(i));
  }
  // A reader from the beginning gets one line saying what was cut, then the
  // tail, the newest record last, offsets as the follower saw them.
  std::vector<JobLog::Record> from_zero = ReadAll(path_, 0);
  ASSERT_GE(from_zero.size(), 2u);
  EXPECT_EQ(from_zero[0].type, JobLog::RecordType::kAgent);
  EXPECT_EQ(from_zero[0].next_offset, start);
  EXPECT_NE(from_zero[0].data.find(std::to_string(start) + " bytes of this job's earlier log"),
            std::string::npos)
      << from_zero[0].data;
  EXPECT_EQ(from_zero.back().data, "final");
  EXPECT_EQ(from_zero.back().offset, followed.back().offset);
  EXPECT_EQ(from_zero[from_zero.size() - 2].data, followed[399].data);
  // A follower that fell behind resumes inside the cut: one cut line, then
  // the kept records, never a record twice.
  std::vector<JobLog::Record> lagging = ReadAll(path_, followed[10].next_offset);
  ASSERT_FALSE(lagging.empty());
  EXPECT_EQ(lagging[0].type, JobLog::RecordType::kAgent);
  EXPECT_EQ(lagging[0].next_offset, start);
  EXPECT_EQ(lagging.size(), from_zero.size());
}

TEST_F(JobLogTest, TwoWritersCuttingTheSameLogKeepItReadable) {
  auto a = JobLog::OpenForAppend(path_, 16384);
  auto b = JobLog::OpenForAppend(path_, 16384);
  ASSERT_TRUE(a.ok() && b.ok());
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(a->Append(JobLog::RecordType::kStdout, std::string(900, 'a')).ok());
    ASSERT_TRUE(b->Append(JobLog::RecordType::kStderr, std::string(700, 'b')).ok());
  }
  std::vector<JobLog::Record> all = ReadAll(path_, 0);
  ASSERT_GT(all.size(), 10u);
  EXPECT_EQ(all[0].type, JobLog::RecordType::kAgent);
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_EQ(all[i].data, all[i].type == JobLog::RecordType::kStdout ? std::string(900, 'a')
                                                                      : std::string(700, 'b'));
  }
  EXPECT_LE(JobLog::Size(path_) - JobLog::Start(path_), 16384);
}

TEST_F(JobLogTest, LargeWritesAreSplitIntoRecordsWithinTheWireLimit) {
  auto log = JobLog::OpenForAppend(path_, 64 << 20);
  const std::string big(JobLog::kMaxPayload * 2 + 10, 'z');
  ASSERT_TRUE(log->Append(JobLog::RecordType::kStdout, big).ok());
  auto records = JobLog::Read(path_, 0, 64 << 20);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 3u);
  std::string joined;
  for (const auto& r : *records) {
    EXPECT_LE(r.data.size(), JobLog::kMaxPayload);
    joined += r.data;
  }
  EXPECT_EQ(joined, big);
}

}  // namespace
}  // namespace mlcube
