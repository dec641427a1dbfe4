#include "common/background_sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace mlcube {
namespace {

std::string Pattern(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 31 + (i >> 9));
  return s;
}

TEST(BackgroundSha256Test, PiecesAreHashedInTheOrderTheyWereAdded) {
  const std::string a = Pattern(3 << 20, 'a');
  const std::string b = Pattern(5 << 20, 'b');
  const std::string c = Pattern(17, 'c');
  BackgroundSha256 sha(1 << 20);  // smaller than two of the pieces: Add must wait, not stall
  sha.Add(a);
  sha.Add(b.data(), b.size());
  sha.Add(c);
  v1Digest got = sha.Finish();
  EXPECT_TRUE(SameDigest(got, DigestOf(a + b + c))) << got.hash();
  EXPECT_EQ(got.size_bytes(), static_cast<int64_t>(a.size() + b.size() + c.size()));
  EXPECT_FALSE(SameDigest(got, DigestOf(b + a + c)));
}

// A buffer filled by a read counts with the size given, not its allocation.
TEST(BackgroundSha256Test, BufferPiecesCountTheirFilledBytesOnly) {
  const std::string a = Pattern(2 << 20, 'a');
  const std::string b = Pattern(1000, 'b');
  BackgroundSha256 sha(1 << 20);
  BackgroundSha256::Buffer buffer = BackgroundSha256::NewBuffer(a.size() + 4096);
  a.copy(buffer.get(), a.size());
  sha.Add(std::move(buffer), a.size());
  sha.Add(b);
  v1Digest got = sha.Finish();
  EXPECT_TRUE(SameDigest(got, DigestOf(a + b))) << got.hash();
}

TEST(BackgroundSha256Test, ChunksGetTheirOwnDigestsInOrderAndCountInTheWhole) {
  const std::string a = Pattern(2 << 20, 'a');
  const std::string b = Pattern(100, 'b');
  const std::string c = Pattern(3 << 20, 'c');
  BackgroundSha256 sha(1 << 20);
  sha.AddChunk(a.data(), a.size());
  sha.Add(b);  // not a chunk: only in the whole
  sha.AddChunk(c.data(), c.size());
  EXPECT_TRUE(SameDigest(sha.Finish(), DigestOf(a + b + c)));
  ASSERT_EQ(sha.ChunkDigests().size(), 2u);
  EXPECT_EQ(HexOfRaw(sha.ChunkDigests()[0]), DigestOf(a).hash());
  EXPECT_EQ(HexOfRaw(sha.ChunkDigests()[1]), DigestOf(c).hash());
}

TEST(BackgroundSha256Test, NoPiecesIsTheDigestOfNothing) {
  BackgroundSha256 sha;
  EXPECT_TRUE(SameDigest(sha.Finish(), DigestOf("")));
}

}  // namespace
}  // namespace mlcube
