#include "common/digest.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/safe_path.h"

namespace mlcube {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_->md); }

void Sha256::Update(const void* data, size_t size) {
  if (size == 0) return;
  EVP_DigestUpdate(ctx_->md, data, size);
  size_ += static_cast<int64_t>(size);
}

std::array<uint8_t, 32> Sha256::FinishRaw() {
  std::array<uint8_t, 32> raw{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md, raw.data(), &len);
  return raw;
}

v1Digest Sha256::Finish() {
  const int64_t size = size_;
  return MakeDigest(HexOfRaw(FinishRaw()), size);
}

v1Digest DigestOf(absl::string_view data) {
  Sha256 sha;
  sha.Update(data);
  return sha.Finish();
}

absl::StatusOr<v1Digest> DigestOfFd(int fd) {
  Sha256 sha;
  std::vector<char> buffer(1 << 20);
  off_t offset = 0;
  for (;;) {
    ssize_t n = pread(fd, buffer.data(), buffer.size(), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("read: ", strerror(errno)));
    }
    if (n == 0) break;
    sha.Update(buffer.data(), static_cast<size_t>(n));
    offset += n;
  }
  return sha.Finish();
}

absl::StatusOr<v1Digest> DigestOfFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("open ", path, ": ", strerror(errno)));
  absl::StatusOr<v1Digest> digest = DigestOfFd(fd);
  close(fd);
  if (!digest.ok()) return absl::InternalError(absl::StrCat(path, ": ", digest.status().message()));
  return digest;
}

std::string HexOfRaw(const std::array<uint8_t, 32>& raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(64, '0');
  for (size_t i = 0; i < raw.size(); ++i) {
    hex[2 * i] = kHex[raw[i] >> 4];
    hex[2 * i + 1] = kHex[raw[i] & 0xf];
  }
  return hex;
}

namespace {

// Value of each lowercase hex digit, 0xff for every other byte: the agent
// converts every digest of every request, so one load per character.
struct HexValues {
  uint8_t of[256];
  constexpr HexValues() : of() {
    for (int c = 0; c < 256; ++c) {
      of[c] = c >= '0' && c <= '9'   ? static_cast<uint8_t>(c - '0')
              : c >= 'a' && c <= 'f' ? static_cast<uint8_t>(c - 'a' + 10)
                                     : 0xff;
    }
  }
};
constexpr HexValues kHexValues;

}  // namespace

bool RawFromHex(absl::string_view hex, std::array<uint8_t, 32>* raw) {
  if (hex.size() != 64) return false;
  uint8_t bad = 0;
  for (size_t i = 0; i < 32; ++i) {
    const uint8_t hi = kHexValues.of[static_cast<uint8_t>(hex[2 * i])];
    const uint8_t lo = kHexValues.of[static_cast<uint8_t>(hex[2 * i + 1])];
    bad |= (hi | lo) & 0xf0;
    (*raw)[i] = static_cast<uint8_t>(hi << 4 | (lo & 0x0f));
  }
  return bad == 0;
}

v1Digest MakeDigest(absl::string_view hex_hash, int64_t size_bytes) {
  v1Digest digest;
  digest.set_hash(hex_hash.data(), hex_hash.size());
  digest.set_size_bytes(size_bytes);
  return digest;
}

absl::Status ValidateDigest(const v1Digest& digest) {
  std::array<uint8_t, 32> raw;
  if (!RawFromHex(digest.hash(), &raw)) {
    return absl::InvalidArgumentError(absl::StrCat("digest hash '",
                                                   PrintableExcerpt(digest.hash(), 80),
                                                   "' is not 64 lowercase hex characters"));
  }
  if (digest.size_bytes() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("digest ", digest.hash(), " has negative size ", digest.size_bytes()));
  }
  return absl::OkStatus();
}

std::string DigestKey(const v1Digest& digest) {
  return absl::StrCat(digest.hash(), "/", digest.size_bytes());
}

}  // namespace mlcube
