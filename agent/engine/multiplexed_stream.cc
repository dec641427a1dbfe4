#include "agent/engine/multiplexed_stream.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace mlcube {

absl::Status MultiplexedStreamDecoder::TakeHeader() {
  if (header_[1] != 0 || header_[2] != 0 || header_[3] != 0 || header_[0] > 2) {
    return absl::DataLossError(absl::StrCat("not a multiplexed stream header (stream byte ",
                                            static_cast<int>(header_[0]), ")"));
  }
  // Stdin (0) never comes back from an engine; were it to, it is output too.
  stream_ = header_[0] == 2 ? EngineStream::kStderr : EngineStream::kStdout;
  payload_left_ = (uint32_t{header_[4]} << 24) | (uint32_t{header_[5]} << 16) |
                  (uint32_t{header_[6]} << 8) | uint32_t{header_[7]};
  header_filled_ = 0;
  return absl::OkStatus();
}

absl::Status MultiplexedStreamDecoder::Feed(absl::string_view bytes) {
  while (!bytes.empty()) {
    if (payload_left_ > 0) {
      const size_t take = std::min<size_t>(payload_left_, bytes.size());
      sink_(stream_, bytes.substr(0, take));
      payload_left_ -= take;
      bytes.remove_prefix(take);
      continue;
    }
    const size_t take = std::min(sizeof(header_) - header_filled_, bytes.size());
    std::copy_n(bytes.data(), take, header_ + header_filled_);
    header_filled_ += take;
    bytes.remove_prefix(take);
    if (header_filled_ == sizeof(header_)) {
      if (absl::Status s = TakeHeader(); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace mlcube
