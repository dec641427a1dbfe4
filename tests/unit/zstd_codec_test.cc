#include "common/zstd_codec.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "controller/sync/compression_policy.h"

namespace mlcube {
namespace {

std::string RandomBytes(size_t n) {
  std::mt19937 rng(7);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

std::string Text(size_t n) {
  std::string s;
  for (int i = 0; s.size() < n; ++i) s += "epoch " + std::to_string(i) + " loss 0.25\n";
  s.resize(n);
  return s;
}

TEST(ZstdCodecTest, CompressesTextAndRoundTrips) {
  const std::string text = Text(300 << 10);
  std::string frame;
  ASSERT_TRUE(ZstdCodec::CompressIfWorthwhile(text, 3, &frame));
  EXPECT_LT(frame.size(), text.size() / 4);
  EXPECT_EQ(ZstdCodec::FrameContentSize(frame), static_cast<int64_t>(text.size()));
  std::string back;
  ASSERT_TRUE(ZstdCodec::Decompress(frame, static_cast<int64_t>(text.size()), &back).ok());
  EXPECT_EQ(back, text);
}

TEST(ZstdCodecTest, LeavesRandomAndTinyDataAlone) {
  std::string frame;
  EXPECT_FALSE(ZstdCodec::CompressIfWorthwhile(RandomBytes(256 << 10), 1, &frame));
  EXPECT_FALSE(ZstdCodec::CompressIfWorthwhile("tiny tiny tiny tiny", 1, &frame));
  // The same call does compress what is worth it.
  std::string text;
  while (text.size() < (256 << 10)) text += "tiny tiny tiny tiny ";
  EXPECT_TRUE(ZstdCodec::CompressIfWorthwhile(text, 1, &frame));
  EXPECT_LT(frame.size(), text.size() / 10);
}

TEST(ZstdCodecTest, RefusesFramesOfAnotherSizeOrGarbage) {
  const std::string frame = ZstdCodec::Compress(Text(64 << 10), 1);
  std::string out;
  EXPECT_EQ(ZstdCodec::Decompress(frame, 100, &out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ZstdCodec::Decompress("garbage", 7, &out).code(), absl::StatusCode::kInvalidArgument);
  std::string truncated = frame.substr(0, frame.size() / 2);
  EXPECT_FALSE(ZstdCodec::Decompress(truncated, 64 << 10, &out).ok());
}

TEST(CompressionPolicyTest, LevelFollowsTheMeasuredLinkSpeed) {
  CompressionPolicy fast(4);
  EXPECT_EQ(fast.Level(), 1);                                // nothing measured yet: cheapest level
  for (int i = 0; i < 4; ++i) fast.Observe(1 << 20, 0.002);  // ~2 GB/s in all
  EXPECT_EQ(fast.Level(), 0);
  CompressionPolicy wan(4);
  for (int i = 0; i < 4; ++i) wan.Observe(1 << 20, 0.35);  // ~12 MB/s: 100 Mbit/s
  EXPECT_EQ(wan.Level(), 3);
  CompressionPolicy gigabit(4);
  for (int i = 0; i < 4; ++i) gigabit.Observe(1 << 20, 0.04);  // ~100 MB/s
  EXPECT_EQ(gigabit.Level(), 1);
}

}  // namespace
}  // namespace mlcube
