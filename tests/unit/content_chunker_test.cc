#include "common/content_chunker.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>

#include "common/unique_fd.h"
#include "tests/unit/sync_test_util.h"

namespace mlcube {
namespace {

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

ContentChunker::FileChunks ChunkString(
    const std::string& data,
    ContentChunker::WholeDigest whole = ContentChunker::WholeDigest::kSameThread) {
  sync_testing::TempDir dir;
  sync_testing::WriteFile(dir / "f", data);
  UniqueFd fd(open((dir / "f").c_str(), O_RDONLY | O_CLOEXEC));
  absl::StatusOr<ContentChunker::FileChunks> chunks = ContentChunker::ChunkFd(fd.get(), whole);
  EXPECT_TRUE(chunks.ok()) << chunks.status();
  return chunks.ok() ? *chunks : ContentChunker::FileChunks{};
}

std::set<std::string> Hashes(const ContentChunker::FileChunks& c) {
  std::set<std::string> out;
  for (const ContentChunker::Chunk& chunk : c.chunks) out.insert(HexOfRaw(chunk.sha256));
  return out;
}

int64_t BytesNotIn(const ContentChunker::FileChunks& c, const std::set<std::string>& known) {
  int64_t bytes = 0;
  for (const ContentChunker::Chunk& chunk : c.chunks) {
    if (!known.count(HexOfRaw(chunk.sha256))) bytes += chunk.size;
  }
  return bytes;
}

TEST(ContentChunkerTest, TheWholeDigestOnItsOwnThreadIsTheSameDigestAndTheSameChunks) {
  // 20 MiB: more than the 8 MiB the digest's thread may have queued.
  const std::string data = RandomBytes(20 << 20, 7);
  ContentChunker::FileChunks inline_digest = ChunkString(data);
  ContentChunker::FileChunks aside = ChunkString(data, ContentChunker::WholeDigest::kOwnThread);
  EXPECT_TRUE(SameDigest(aside.digest, DigestOf(data)));
  EXPECT_TRUE(SameDigest(aside.digest, inline_digest.digest));
  ASSERT_EQ(aside.chunks.size(), inline_digest.chunks.size());
  for (size_t i = 0; i < aside.chunks.size(); ++i) {
    EXPECT_EQ(aside.chunks[i].sha256, inline_digest.chunks[i].sha256);
  }
}

TEST(ContentChunkerTest, ChunksTileTheFileWithinBoundsAndHashCorrectly) {
  const std::string data = RandomBytes(8 << 20, 1);
  ContentChunker::FileChunks c = ChunkString(data);
  EXPECT_TRUE(SameDigest(c.digest, DigestOf(data)));
  int64_t offset = 0;
  for (size_t i = 0; i < c.chunks.size(); ++i) {
    const ContentChunker::Chunk& chunk = c.chunks[i];
    EXPECT_EQ(chunk.offset, offset);
    if (i + 1 < c.chunks.size()) {
      EXPECT_GE(chunk.size, static_cast<int64_t>(ContentChunker::kMinSize));
    }
    EXPECT_LE(chunk.size, static_cast<int64_t>(ContentChunker::kMaxSize));
    EXPECT_EQ(HexOfRaw(chunk.sha256), DigestOf(data.substr(offset, chunk.size)).hash());
    offset += chunk.size;
  }
  EXPECT_EQ(offset, static_cast<int64_t>(data.size()));
  // About 64 KiB on average: 8 MiB gives roughly 128 chunks.
  EXPECT_GT(c.chunks.size(), 64u);
  EXPECT_LT(c.chunks.size(), 256u);
}

TEST(ContentChunkerTest, Deterministic) {
  const std::string data = RandomBytes(3 << 20, 2);
  ContentChunker::FileChunks a = ChunkString(data);
  ContentChunker::FileChunks b = ChunkString(data);
  ASSERT_EQ(a.chunks.size(), b.chunks.size());
  for (size_t i = 0; i < a.chunks.size(); ++i) {
    EXPECT_EQ(a.chunks[i].offset, b.chunks[i].offset);
    EXPECT_EQ(a.chunks[i].sha256, b.chunks[i].sha256);
  }
}

TEST(ContentChunkerTest, AppendChangesOnlyTheLastChunks) {
  const std::string data = RandomBytes(16 << 20, 3);
  ContentChunker::FileChunks before = ChunkString(data);
  ContentChunker::FileChunks after = ChunkString(data + RandomBytes(1 << 20, 4));
  // New: the appended MiB plus at most the old last chunk.
  EXPECT_LE(BytesNotIn(after, Hashes(before)),
            (1 << 20) + static_cast<int64_t>(ContentChunker::kMaxSize));
}

TEST(ContentChunkerTest, InsertAndEditChangeOnlyNearbyChunks) {
  const std::string data = RandomBytes(4 << 20, 5);
  ContentChunker::FileChunks before = ChunkString(data);
  std::string inserted = data;
  inserted.insert(2 << 20, "a few inserted bytes");
  EXPECT_LE(BytesNotIn(ChunkString(inserted), Hashes(before)),
            2 * static_cast<int64_t>(ContentChunker::kMaxSize));
  std::string edited = data;
  for (int i = 0; i < 100; ++i) edited[(3 << 20) + i] ^= 0x5a;
  EXPECT_LE(BytesNotIn(ChunkString(edited), Hashes(before)),
            2 * static_cast<int64_t>(ContentChunker::kMaxSize));
}

TEST(ContentChunkerTest, SmallAndEmptyInputsAreOneChunkOrNone) {
  EXPECT_TRUE(ChunkString("").chunks.empty());
  ContentChunker::FileChunks c = ChunkString("tiny");
  ASSERT_EQ(c.chunks.size(), 1u);
  EXPECT_EQ(c.chunks[0].size, 4);
  // Long runs of one byte value still end chunks within the bounds.
  ContentChunker::FileChunks zeros = ChunkString(std::string(1 << 20, '\0'));
  for (const auto& chunk : zeros.chunks) {
    EXPECT_LE(chunk.size, static_cast<int64_t>(ContentChunker::kMaxSize));
  }
}

}  // namespace
}  // namespace mlcube
