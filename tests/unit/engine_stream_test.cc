#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "agent/engine/container_session.h"
#include "agent/engine/engine_connection.h"
#include "agent/engine/multiplexed_stream.h"

namespace mlcube {
namespace {

std::string Frame(unsigned char stream, const std::string& payload) {
  std::string frame = {static_cast<char>(stream), 0, 0, 0};
  const uint32_t size = payload.size();
  for (int shift = 24; shift >= 0; shift -= 8) frame.push_back(static_cast<char>(size >> shift));
  return frame + payload;
}

// What a decoder delivers, consecutive pieces of one stream joined.
class Collected {
 public:
  MultiplexedStreamDecoder::Sink Sink() {
    return [this](EngineStream stream, absl::string_view bytes) {
      if (!pieces_.empty() && pieces_.back().first == stream) {
        pieces_.back().second.append(bytes.data(), bytes.size());
      } else {
        pieces_.emplace_back(stream, std::string(bytes));
      }
    };
  }
  const std::vector<std::pair<EngineStream, std::string>>& pieces() const { return pieces_; }

 private:
  std::vector<std::pair<EngineStream, std::string>> pieces_;
};

TEST(MultiplexedStreamDecoderTest, FramesCutAtEveryByteComeOutWholeOnTheirStreams) {
  const std::string big(70000, 'x');  // a length needing three bytes of the header
  const std::string stream =
      Frame(1, "out 1\n") + Frame(2, "err 1\n") + Frame(1, big) + Frame(1, "") + Frame(2, "e2");
  for (size_t cut = 1; cut <= 9; ++cut) {
    Collected collected;
    MultiplexedStreamDecoder decoder(collected.Sink());
    for (size_t at = 0; at < stream.size(); at += cut) {
      ASSERT_TRUE(decoder.Feed(absl::string_view(stream).substr(at, cut)).ok());
    }
    const std::vector<std::pair<EngineStream, std::string>> expected = {
        {EngineStream::kStdout, "out 1\n"},
        {EngineStream::kStderr, "err 1\n"},
        {EngineStream::kStdout, big},
        {EngineStream::kStderr, "e2"}};
    EXPECT_EQ(collected.pieces(), expected) << "cut every " << cut;
  }
}

TEST(MultiplexedStreamDecoderTest, BytesThatAreNotAFrameHeaderAreRefused) {
  Collected collected;
  MultiplexedStreamDecoder decoder(collected.Sink());
  absl::Status raw = decoder.Feed("Hello, world! this is raw TTY output\n");
  EXPECT_EQ(raw.code(), absl::StatusCode::kDataLoss) << raw;
  MultiplexedStreamDecoder padded(collected.Sink());
  EXPECT_EQ(padded.Feed(std::string("\x01\x00\x01\x00\x00\x00\x00\x01z", 9)).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_TRUE(collected.pieces().empty());
}

TEST(StartFailureExitCodeTest, MapsTheEnginesMessageAsDockerRunDoes) {
  EXPECT_EQ(StartFailureExitCode("failed to create task: exec: \"/no/such\": stat /no/such: no "
                                 "such file or directory: unknown"),
            127);
  EXPECT_EQ(StartFailureExitCode("exec: \"python\": executable file not found in $PATH"), 127);
  EXPECT_EQ(StartFailureExitCode("exec: \"/data\": permission denied"), 126);
  EXPECT_EQ(StartFailureExitCode("error mounting \"/x\": invalid mount config"), 125);
}

TEST(EngineErrorMessageTest, TakesTheMessageOfAJsonErrorElseAPrintableExcerpt) {
  EXPECT_EQ(EngineErrorMessage("{\"message\":\"No such container: a\\u0026b\"}\n"),
            "No such container: a&b");
  EXPECT_EQ(EngineErrorMessage("plain \x1b[31mtext"), "plain \\x1b[31mtext");
}

}  // namespace
}  // namespace mlcube
