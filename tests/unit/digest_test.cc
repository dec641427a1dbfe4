#include "common/digest.h"

#include <gtest/gtest.h>

#include "tests/unit/sync_test_util.h"

namespace mlcube {
namespace {

TEST(DigestTest, KnownVectors) {
  EXPECT_EQ(DigestOf("").hash(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  v1Digest abc = DigestOf("abc");
  EXPECT_EQ(abc.hash(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(abc.size_bytes(), 3);
}

TEST(DigestTest, IncrementalEqualsOneShot) {
  Sha256 sha;
  sha.Update("a");
  sha.Update("bc");
  EXPECT_TRUE(SameDigest(sha.Finish(), DigestOf("abc")));
}

TEST(DigestTest, FileDigest) {
  sync_testing::TempDir dir;
  std::string data(3 << 20, 'x');
  sync_testing::WriteFile(dir / "f", data);
  absl::StatusOr<v1Digest> d = DigestOfFile(dir / "f");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(SameDigest(*d, DigestOf(data)));
  EXPECT_FALSE(DigestOfFile(dir / "missing").ok());
}

TEST(DigestTest, Validate) {
  EXPECT_TRUE(ValidateDigest(DigestOf("x")).ok());
  EXPECT_EQ(ValidateDigest(MakeDigest("abc", 1)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateDigest(MakeDigest(std::string(64, 'A'), 1)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateDigest(MakeDigest(std::string(64, 'a'), -1)).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DigestTest, HexRoundTrip) {
  std::array<uint8_t, 32> raw;
  ASSERT_TRUE(RawFromHex(DigestOf("abc").hash(), &raw));
  EXPECT_EQ(HexOfRaw(raw), DigestOf("abc").hash());
  EXPECT_FALSE(RawFromHex("zz", &raw));
  // Only lowercase hex, at every position, in either half of a byte.
  const std::string good = DigestOf("abc").hash();
  for (size_t i = 0; i < good.size(); ++i) {
    for (char bad : {'A', 'F', 'g', '/', ':', '`', '\0', '\xff'}) {
      std::string hex = good;
      hex[i] = bad;
      EXPECT_FALSE(RawFromHex(hex, &raw)) << "position " << i << " char " << int{bad};
    }
  }
  EXPECT_TRUE(RawFromHex(std::string(64, 'f'), &raw));
  EXPECT_EQ(raw[31], 0xff);
  EXPECT_TRUE(RawFromHex(std::string(64, '0'), &raw));
  EXPECT_EQ(raw[0], 0);
}

}  // namespace
}  // namespace mlcube
