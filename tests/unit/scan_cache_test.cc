#include "controller/sync/scan_cache.h"

#include <gtest/gtest.h>

#include "tests/unit/sync_test_util.h"

namespace mlcube {
namespace {

TEST(ScanCacheTest, RoundTripAndStatKey) {
  sync_testing::TempDir dir;
  const std::string file = dir / "cache/scan.bin";
  {
    ScanCache cache = ScanCache::Load(file);
    EXPECT_EQ(cache.size(), 0u);
    ScanCache::Record r;
    r.size = 10;
    r.mtime_ns = 20;
    r.ctime_ns = 30;
    r.inode = 40;
    r.sha256[0] = 0xab;
    r.synced = true;
    cache.Put("a/b", r);
    ASSERT_TRUE(cache.Save().ok());
  }
  ScanCache cache = ScanCache::Load(file);
  ASSERT_EQ(cache.size(), 1u);
  const ScanCache::Record* r = cache.Find("a/b", 10, 20, 30, 40);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->sha256[0], 0xab);
  EXPECT_TRUE(r->synced);
  EXPECT_EQ(cache.Find("a/b", 10, 21, 30, 40), nullptr);  // mtime changed
  EXPECT_EQ(cache.Find("a/b", 10, 20, 31, 40), nullptr);  // ctime changed
  EXPECT_EQ(cache.Find("a/b", 10, 20, 30, 41), nullptr);  // other inode
  EXPECT_NE(cache.FindAny("a/b"), nullptr);
}

TEST(ScanCacheTest, ChunkListsSurviveARoundTrip) {
  sync_testing::TempDir dir;
  const std::string file = dir / "scan.bin";
  {
    ScanCache cache = ScanCache::Load(file);
    ScanCache::Record r;
    r.size = 3 << 20;
    for (uint8_t i = 0; i < 3; ++i) {
      ScanCache::ChunkRef chunk;
      chunk.sha256[0] = i;
      chunk.size = 1u << 20;
      r.chunks.push_back(chunk);
    }
    cache.Put("big.bin", r);
    cache.Put("small.txt", ScanCache::Record{});
    ASSERT_TRUE(cache.Save().ok());
  }
  ScanCache cache = ScanCache::Load(file);
  const ScanCache::Record* big = cache.FindAny("big.bin");
  ASSERT_NE(big, nullptr);
  ASSERT_EQ(big->chunks.size(), 3u);
  EXPECT_EQ(big->chunks[2].sha256[0], 2);
  EXPECT_EQ(big->chunks[2].size, 1u << 20);
  ASSERT_NE(cache.FindAny("small.txt"), nullptr);
  EXPECT_TRUE(cache.FindAny("small.txt")->chunks.empty());
}

TEST(ScanCacheTest, CacheOfTheFormerFormatIsEmpty) {
  sync_testing::TempDir dir;
  std::string old("MLCSCN01", 8);
  old.append(8, '\0');  // zero records
  sync_testing::WriteFile(dir / "scan.bin", old);
  EXPECT_EQ(ScanCache::Load(dir / "scan.bin").size(), 0u);
}

TEST(ScanCacheTest, CorruptFileIsEmptyCache) {
  sync_testing::TempDir dir;
  sync_testing::WriteFile(dir / "scan.bin", "MLCSCN01garbage");
  EXPECT_EQ(ScanCache::Load(dir / "scan.bin").size(), 0u);
}

TEST(ScanCacheTest, DropUnseen) {
  ScanCache cache;
  ScanCache::Record r;
  r.size = 5;
  cache.Put("a", r);
  cache.Put("b", r);
  cache.Put("c", r);
  cache.BeginScan();
  EXPECT_NE(cache.FindForScan("a", 5, 0, 0, 0), nullptr);
  // A file found changed is still there: its record stays until it is hashed again.
  EXPECT_EQ(cache.FindForScan("b", 6, 0, 0, 0), nullptr);
  cache.DropUnseen();
  EXPECT_NE(cache.FindAny("a"), nullptr);
  EXPECT_NE(cache.FindAny("b"), nullptr);
  EXPECT_EQ(cache.FindAny("c"), nullptr);
}

TEST(ScanCacheTest, KeysOutliveMovesAndRehashing) {
  sync_testing::TempDir dir;
  const std::string file = dir / "scan.bin";
  {
    ScanCache cache = ScanCache::Load(file);
    for (int i = 0; i < 100; ++i) cache.Put("saved/file-number-" + std::to_string(i), {});
    ASSERT_TRUE(cache.Save().ok());
  }
  ScanCache loaded = ScanCache::Load(file);
  // Keys from the file and keys put afterwards, across the table growing and a move.
  for (int i = 0; i < 1000; ++i) loaded.Put("later/a-long-path-name-" + std::to_string(i), {});
  ScanCache moved = std::move(loaded);
  EXPECT_EQ(moved.size(), 1100u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_NE(moved.FindAny("saved/file-number-" + std::to_string(i)), nullptr) << i;
  }
  for (int i = 0; i < 1000; ++i) {
    EXPECT_NE(moved.FindAny("later/a-long-path-name-" + std::to_string(i)), nullptr) << i;
  }
  ASSERT_TRUE(moved.Save().ok());
  EXPECT_EQ(ScanCache::Load(file).size(), 1100u);
}

TEST(ScanCacheTest, ImpossibleRecordCountIsEmptyCache) {
  sync_testing::TempDir dir;
  std::string data("MLCSCN02", 8);
  const uint64_t count = uint64_t{1} << 60;
  data.append(reinterpret_cast<const char*>(&count), sizeof(count));
  data.append(100, 'x');
  sync_testing::WriteFile(dir / "scan.bin", data);
  EXPECT_EQ(ScanCache::Load(dir / "scan.bin").size(), 0u);
}

}  // namespace
}  // namespace mlcube
