#ifndef MLCUBE_REMOTE_COMMON_DIGEST_H_
#define MLCUBE_REMOTE_COMMON_DIGEST_H_

// Content addressing: a blob is named by the lowercase hex SHA-256 of its
// bytes plus its size (mlcube_remote.v1.Digest). SHA-256 comes from OpenSSL's
// EVP interface, which uses the CPU's SHA extensions when present.

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mlcube_remote/v1/digest.pb.h"

namespace mlcube {

using v1Digest = ::mlcube_remote::v1::Digest;

// Incremental SHA-256. Not copyable; one instance per stream of bytes.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  void Update(absl::string_view data) { Update(data.data(), data.size()); }
  // Bytes fed so far.
  int64_t size() const { return size_; }
  // Finishes the hash; the object must not be updated afterwards.
  std::array<uint8_t, 32> FinishRaw();
  // Finishes and returns the digest (hex hash + size).
  v1Digest Finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
  int64_t size_ = 0;
};

// Digest of an in-memory byte string.
v1Digest DigestOf(absl::string_view data);

// Digest of an open file's content from offset 0 to EOF, read with pread so
// the file position is untouched.
absl::StatusOr<v1Digest> DigestOfFd(int fd);

// Digest of the file at `path` (follows no symlink at the last component).
absl::StatusOr<v1Digest> DigestOfFile(const std::string& path);

// Hex (lowercase) of 32 raw bytes, and back. RawFromHex fails on bad input.
std::string HexOfRaw(const std::array<uint8_t, 32>& raw);
bool RawFromHex(absl::string_view hex, std::array<uint8_t, 32>* raw);

// Builds a digest from parts.
v1Digest MakeDigest(absl::string_view hex_hash, int64_t size_bytes);

// INVALID_ARGUMENT unless the hash is 64 lowercase hex chars and size >= 0.
absl::Status ValidateDigest(const v1Digest& digest);

// "HASH/SIZE", used as a map key and in messages.
std::string DigestKey(const v1Digest& digest);

inline bool SameDigest(const v1Digest& a, const v1Digest& b) {
  return a.size_bytes() == b.size_bytes() && a.hash() == b.hash();
}

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_DIGEST_H_
