#include "agent/cas/blob_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include "tests/unit/sync_test_util.h"

namespace mlcube {
namespace {

TEST(BlobStoreTest, PutVerifiesAndStores) {
  sync_testing::TempDir dir;
  absl::StatusOr<BlobStore> store = BlobStore::Open(dir / "blobs");
  ASSERT_TRUE(store.ok()) << store.status();
  v1Digest d = DigestOf("hello");
  EXPECT_FALSE(store->Has(d));
  ASSERT_TRUE(store->Put(d, "hello").ok());
  EXPECT_TRUE(store->Has(d));
  EXPECT_EQ(*store->Read(d), "hello");
  // Stored read-only so nothing writes through it by accident.
  struct stat st;
  ASSERT_EQ(stat(store->PathOf(d).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0400u);
}

TEST(BlobStoreTest, RefusesMismatchedData) {
  sync_testing::TempDir dir;
  BlobStore store = *BlobStore::Open(dir / "blobs");
  absl::Status s = store.Put(DigestOf("hello"), "hellO");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(store.Has(DigestOf("hello")));
}

TEST(BlobStoreTest, TruncatedBlobCountsAsMissing) {
  sync_testing::TempDir dir;
  BlobStore store = *BlobStore::Open(dir / "blobs");
  v1Digest d = DigestOf("0123456789");
  ASSERT_TRUE(store.Put(d, "0123456789").ok());
  ASSERT_TRUE(store.Has(d));  // whole, it counts
  ASSERT_EQ(truncate(store.PathOf(d).c_str(), 3), 0);
  EXPECT_FALSE(store.Has(d));
}

TEST(BlobStoreTest, ImportFileHashesAndStores) {
  sync_testing::TempDir dir;
  BlobStore store = *BlobStore::Open(dir / "blobs");
  sync_testing::WriteFile(dir / "src", "some output");
  int fd = open((dir / "src").c_str(), O_RDONLY);
  absl::StatusOr<v1Digest> d = store.ImportFile(fd);
  close(fd);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(SameDigest(*d, DigestOf("some output")));
  EXPECT_TRUE(store.Has(*d));
}

TEST(BlobStoreTest, GarbageCollectionRemovesLeastRecentlyUsedUnreferenced) {
  sync_testing::TempDir dir;
  BlobStore store = *BlobStore::Open(dir / "blobs");
  const std::string a(1000, 'a'), b(1000, 'b'), c(1000, 'c');
  for (const std::string* s : {&a, &b, &c}) ASSERT_TRUE(store.Put(DigestOf(*s), *s).ok());
  // a oldest, then b, then c.
  auto age = [&](const std::string& data, time_t t) {
    struct utimbuf times = {t, t};
    utime(store.PathOf(DigestOf(data)).c_str(), &times);
  };
  age(a, 1000);
  age(b, 2000);
  age(c, 3000);
  absl::flat_hash_set<std::string> referenced = {DigestOf(a).hash()};
  absl::StatusOr<BlobStore::GcResult> r = store.CollectGarbage(2000, referenced, 0);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->bytes_before, 3000);
  EXPECT_EQ(r->bytes_after, 2000);
  EXPECT_EQ(r->blobs_removed, 1);
  EXPECT_TRUE(store.Has(DigestOf(a)));   // referenced, though oldest
  EXPECT_FALSE(store.Has(DigestOf(b)));  // least recently used unreferenced
  EXPECT_TRUE(store.Has(DigestOf(c)));
}

TEST(BlobStoreTest, GarbageCollectionKeepsYoungBlobs) {
  sync_testing::TempDir dir;
  BlobStore store = *BlobStore::Open(dir / "blobs");
  ASSERT_TRUE(store.Put(DigestOf("x"), "x").ok());
  absl::StatusOr<BlobStore::GcResult> r = store.CollectGarbage(0, {}, 3600);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->blobs_removed, 0);
  EXPECT_TRUE(store.Has(DigestOf("x")));
}

}  // namespace
}  // namespace mlcube
