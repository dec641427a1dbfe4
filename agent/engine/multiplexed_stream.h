#ifndef MLCUBE_REMOTE_AGENT_ENGINE_MULTIPLEXED_STREAM_H_
#define MLCUBE_REMOTE_AGENT_ENGINE_MULTIPLEXED_STREAM_H_

// Splits the stream a container engine sends for a container without a
// TTY (attach and logs): frames of an 8-byte header — the stream (0 stdin,
// 1 stdout, 2 stderr), three zero bytes, the payload's length as a
// big-endian uint32 — each followed by its payload. Bytes may arrive cut
// anywhere; a frame's payload is handed on as it arrives, so a large frame
// is never held whole.

#include <cstdint>
#include <functional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mlcube {

enum class EngineStream { kStdout, kStderr };

class MultiplexedStreamDecoder {
 public:
  using Sink = std::function<void(EngineStream, absl::string_view)>;
  explicit MultiplexedStreamDecoder(Sink sink) : sink_(std::move(sink)) {}

  // Feeds the next bytes of the stream. DATA_LOSS on a header that is not
  // one (unknown stream, non-zero padding): the stream is not multiplexed
  // and nothing after it can be trusted.
  absl::Status Feed(absl::string_view bytes);

 private:
  absl::Status TakeHeader();

  Sink sink_;
  unsigned char header_[8] = {};
  size_t header_filled_ = 0;
  uint32_t payload_left_ = 0;
  EngineStream stream_ = EngineStream::kStdout;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_ENGINE_MULTIPLEXED_STREAM_H_
