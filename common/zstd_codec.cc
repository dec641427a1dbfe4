#include "common/zstd_codec.h"

#include <zstd.h>

#include "absl/strings/str_cat.h"

namespace mlcube {

namespace {

constexpr size_t kMinWorthwhile = 512;
constexpr size_t kSample = 8 << 10;

}  // namespace

bool ZstdCodec::CompressIfWorthwhile(absl::string_view data, int level, std::string* out) {
  if (data.size() < kMinWorthwhile) return false;
  if (data.size() > kSample) {
    absl::string_view sample = data.substr(data.size() / 2 - kSample / 2, kSample);
    if (Compress(sample, 1).size() * 10 >= sample.size() * 9) return false;
  }
  *out = Compress(data, level);
  return !out->empty() && out->size() * 10 < data.size() * 9;
}

std::string ZstdCodec::Compress(absl::string_view data, int level) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
  if (ZSTD_isError(n)) return std::string();  // cannot happen with a bound-sized buffer
  out.resize(n);
  return out;
}

int64_t ZstdCodec::FrameContentSize(absl::string_view frame) {
  const unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR) return -1;
  if (size > static_cast<unsigned long long>(INT64_MAX)) return -1;
  return static_cast<int64_t>(size);
}

absl::Status ZstdCodec::Decompress(absl::string_view frame, int64_t expected_size,
                                   std::string* out) {
  const int64_t declared = FrameContentSize(frame);
  if (declared != expected_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("zstd frame declares ", declared, " bytes, expected ", expected_size));
  }
  out->resize(static_cast<size_t>(expected_size));
  const size_t n = ZSTD_decompress(out->data(), out->size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != out->size()) {
    out->clear();
    return absl::InvalidArgumentError(absl::StrCat(
        "zstd frame does not decompress: ", ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short"));
  }
  return absl::OkStatus();
}

}  // namespace mlcube
