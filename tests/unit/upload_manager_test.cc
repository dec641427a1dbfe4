#include "agent/cas/upload_manager.h"

#include <gtest/gtest.h>

#include "tests/unit/sync_test_util.h"

namespace mlcube {
namespace {

class UploadManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<BlobStore>(*BlobStore::Open(dir_ / "blobs"));
    manager_ = *UploadManager::Create(dir_ / "uploads", store_.get());
  }
  sync_testing::TempDir dir_;
  std::unique_ptr<BlobStore> store_;
  std::unique_ptr<UploadManager> manager_;
};

TEST_F(UploadManagerTest, StreamsAndCommits) {
  const std::string data(3000, 'q');
  v1Digest d = DigestOf(data);
  auto session = manager_->Begin("uid-1", d, 0, false);
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->Write(0, data.substr(0, 1000)).ok());
  ASSERT_TRUE((*session)->Write(1000, data.substr(1000)).ok());
  ASSERT_TRUE((*session)->Finish().ok());
  EXPECT_TRUE(store_->Has(d));
  EXPECT_EQ(manager_->GetStatus("uid-1", d).committed_offset, 0);  // the part file moved
}

TEST_F(UploadManagerTest, ResumesFromCommittedOffset) {
  const std::string data(5000, 'r');
  v1Digest d = DigestOf(data);
  {
    auto session = *manager_->Begin("uid-1", d, 0, false);
    ASSERT_TRUE(session->Write(0, data.substr(0, 2000)).ok());
    // Stream dropped: no Finish.
  }
  UploadManager::Status status = manager_->GetStatus("uid-1", d);
  EXPECT_EQ(status.committed_offset, 2000);
  EXPECT_FALSE(status.complete);
  // A fresh manager (agent restarted) sees the same partial upload.
  auto restarted = *UploadManager::Create(dir_ / "uploads", store_.get());
  EXPECT_EQ(restarted->GetStatus("uid-1", d).committed_offset, 2000);
  EXPECT_EQ(restarted->Begin("uid-1", d, 0, false).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto session = *restarted->Begin("uid-1", d, 2000, false);
  ASSERT_TRUE(session->Write(2000, data.substr(2000)).ok());
  ASSERT_TRUE(session->Finish().ok());
  EXPECT_EQ(*store_->Read(d), data);
}

TEST_F(UploadManagerTest, RefusesMismatchedChunk) {
  const std::string data(100, 'a');
  v1Digest d = DigestOf(data);
  auto session = *manager_->Begin("uid-1", d, 0, false);
  ASSERT_TRUE(session->Write(0, std::string(100, 'b')).ok());
  absl::Status s = session->Finish();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(store_->Has(d));
  session.reset();
  EXPECT_EQ(manager_->GetStatus("uid-1", d).committed_offset, 0);  // discarded
}

TEST_F(UploadManagerTest, RefusesWrongOffsetAndOverrun) {
  v1Digest d = DigestOf("abcd");
  auto session = *manager_->Begin("uid-1", d, 0, false);
  EXPECT_EQ(session->Write(1, "b").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(session->Write(0, "abcde").code(), absl::StatusCode::kOutOfRange);
}

TEST_F(UploadManagerTest, OneStreamPerDigest) {
  v1Digest d = DigestOf("abcd");
  auto first = manager_->Begin("uid-1", d, 0, false);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(manager_->Begin("uid-1", d, 0, false).status().code(), absl::StatusCode::kAborted);
  first->reset();
  EXPECT_TRUE(manager_->Begin("uid-1", d, 0, false).ok());
}

TEST_F(UploadManagerTest, EachOwnerResumesOnlyItsOwnUpload) {
  const std::string data(4000, 's');
  v1Digest d = DigestOf(data);
  {
    auto session = *manager_->Begin("uid-1", d, 0, false);
    ASSERT_TRUE(session->Write(0, data.substr(0, 1500)).ok());
  }
  EXPECT_EQ(manager_->PartialBytes("uid-1"), 1500);
  EXPECT_EQ(manager_->GetStatus("uid-2", d).committed_offset, 0);
  EXPECT_EQ(manager_->Begin("uid-2", d, 1500, false).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto other = manager_->Begin("uid-2", d, 0, false);
  ASSERT_TRUE(other.ok()) << other.status();  // no clash with uid-1's stream key
  EXPECT_EQ(manager_->PartialBytes("uid-2"), 0);
}

TEST_F(UploadManagerTest, AlreadyHeldIsCompleteAtOnce) {
  v1Digest d = DigestOf("held");
  auto session = *manager_->Begin("uid-1", d, 0, true);
  EXPECT_TRUE(session->complete());
  EXPECT_EQ(session->offset(), d.size_bytes());
}

}  // namespace
}  // namespace mlcube
