#include "controller/sync/blob_downloader.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/grpc_status.h"
#include "common/zstd_codec.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

namespace {

constexpr int64_t kMaxMessagePayload = 1 << 20;

void SetDeadline(grpc::ClientContext* ctx, int seconds) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
}

absl::Status Corrupted(const v1Digest& digest) {
  return absl::DataLossError(absl::StrCat("blob ", DigestKey(digest), " arrived corrupted"));
}

}  // namespace

absl::StatusOr<std::string> BlobDownloader::ReadSmall(const v1Digest& digest) {
  if (absl::Status valid = ValidateDigest(digest); !valid.ok()) return valid;
  if (digest.size_bytes() > kMaxSmallBlobBytes) {
    return absl::FailedPreconditionError(absl::StrCat("blob ", DigestKey(digest), " has ",
                                                      digest.size_bytes(), " bytes, more than ",
                                                      kMaxSmallBlobBytes, " to hold in memory"));
  }
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 300);
  v1::ReadBlobRequest request;
  *request.mutable_digest() = digest;
  std::unique_ptr<grpc::ClientReader<v1::ReadBlobChunk>> reader = cas_->ReadBlob(&ctx, request);
  std::string data;
  data.reserve(static_cast<size_t>(digest.size_bytes()));
  v1::ReadBlobChunk chunk;
  bool too_long = false;
  while (!too_long && reader->Read(&chunk)) {
    // Never more than the digest says (a hostile agent may stream forever).
    too_long = chunk.data().size() > static_cast<size_t>(digest.size_bytes()) - data.size();
    if (!too_long) data.append(chunk.data());
  }
  if (too_long) ctx.TryCancel();
  grpc::Status s = reader->Finish();
  if (too_long) return Corrupted(digest);
  if (!s.ok()) return FromGrpcStatus(s, "ReadBlob");
  if (!SameDigest(DigestOf(data), digest)) return Corrupted(digest);
  return data;
}

absl::Status BlobDownloader::ReadToFile(const v1Digest& digest, int fd) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 3600);
  v1::ReadBlobRequest request;
  *request.mutable_digest() = digest;
  request.add_acceptable_compressors(v1::COMPRESSOR_ZSTD);
  std::unique_ptr<grpc::ClientReader<v1::ReadBlobChunk>> reader = cas_->ReadBlob(&ctx, request);
  Sha256 sha;
  int64_t offset = 0;
  absl::Status local;
  v1::ReadBlobChunk chunk;
  std::string plain;
  while (local.ok() && reader->Read(&chunk)) {
    if (chunk.compressor() == v1::COMPRESSOR_ZSTD) {
      const int64_t size = ZstdCodec::FrameContentSize(chunk.data());
      if (size < 0 || size > kMaxMessagePayload ||
          !ZstdCodec::Decompress(chunk.data(), size, &plain).ok()) {
        local = Corrupted(digest);
        break;
      }
      chunk.mutable_data()->swap(plain);
    }
    if (chunk.offset() != offset ||
        offset + static_cast<int64_t>(chunk.data().size()) > digest.size_bytes()) {
      local = Corrupted(digest);
      break;
    }
    sha.Update(chunk.data());
    local = WriteAllAt(fd, chunk.data(), offset, "a pulled file");
    offset += static_cast<int64_t>(chunk.data().size());
  }
  if (!local.ok()) ctx.TryCancel();
  grpc::Status s = reader->Finish();
  if (!local.ok()) return local;
  if (!s.ok()) return FromGrpcStatus(s, "ReadBlob");
  if (!SameDigest(sha.Finish(), digest)) return Corrupted(digest);
  return absl::OkStatus();
}

absl::Status BlobDownloader::ReadBatch(
    const std::vector<v1Digest>& digests,
    const std::function<absl::Status(const v1Digest&, const std::string&)>& sink) {
  v1::BatchReadBlobsRequest read;
  absl::flat_hash_set<std::string> asked;
  for (const v1Digest& d : digests) {
    *read.add_digests() = d;
    asked.insert(DigestKey(d));
  }
  read.add_acceptable_compressors(v1::COMPRESSOR_ZSTD);
  v1::BatchReadBlobsResponse response;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 300);
  grpc::Status s = cas_->BatchReadBlobs(&ctx, read, &response);
  if (!s.ok()) return FromGrpcStatus(s, "BatchReadBlobs");
  std::string plain;
  for (auto& r : *response.mutable_results()) {
    if (r.status().code() != 0) {
      return absl::Status(static_cast<absl::StatusCode>(r.status().code()), r.status().message());
    }
    // Only what was asked (that also bounds what a frame may expand to).
    if (!asked.contains(DigestKey(r.digest()))) return Corrupted(r.digest());
    if (r.compressor() == v1::COMPRESSOR_ZSTD) {
      if (!ZstdCodec::Decompress(r.data(), r.digest().size_bytes(), &plain).ok()) {
        return Corrupted(r.digest());
      }
      r.mutable_data()->swap(plain);
    }
    if (!SameDigest(DigestOf(r.data()), r.digest())) return Corrupted(r.digest());
    if (absl::Status ws = sink(r.digest(), r.data()); !ws.ok()) return ws;
  }
  return absl::OkStatus();
}

}  // namespace mlcube
