#include "agent/services/content_store_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "agent/validation/request_validator.h"
#include "common/file_util.h"
#include "common/grpc_status.h"
#include "common/unique_fd.h"
#include "common/zstd_codec.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

namespace {

// Writes one upload message's bytes, decompressed first when compressed (a
// frame of at most one payload's worth).
absl::Status WriteChunk(const v1::UploadChunk& chunk, UploadSession* session, std::string* plain) {
  if (chunk.compressor() != v1::COMPRESSOR_ZSTD)
    return session->Write(chunk.offset(), chunk.data());
  const int64_t size = ZstdCodec::FrameContentSize(chunk.data());
  if (size < 0 || size > RequestLimits::kMaxPayloadBytes) {
    return absl::InvalidArgumentError("compressed upload chunk without a valid content size");
  }
  if (absl::Status s = ZstdCodec::Decompress(chunk.data(), size, plain); !s.ok()) return s;
  return session->Write(chunk.offset(), *plain);
}

bool AcceptsZstd(const google::protobuf::RepeatedField<int>& compressors) {
  for (int c : compressors) {
    if (c == v1::COMPRESSOR_ZSTD) return true;
  }
  return false;
}

// Compresses blob bytes for a reader that accepts zstd, when that pays (the
// agent cannot tell the link's speed: the fastest level).
v1::Compressor MaybeCompress(bool accepted, std::string* data) {
  std::string compressed;
  if (!accepted || !ZstdCodec::CompressIfWorthwhile(*data, 1, &compressed)) {
    return v1::COMPRESSOR_IDENTITY;
  }
  data->swap(compressed);
  return v1::COMPRESSOR_ZSTD;
}

}  // namespace

grpc::Status ContentStoreService::FindMissingBlobs(grpc::ServerContext* context,
                                                   const v1::FindMissingBlobsRequest* request,
                                                   v1::FindMissingBlobsResponse* response) {
  absl::StatusOr<std::string> owner = identity_(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  if (absl::Status s = ValidateFindMissingBlobsRequest(*request); !s.ok()) {
    return ToGrpcStatus(s);
  }
  int64_t missing_bytes = 0;
  BlobAccess::SeenWholes seen;
  for (const v1Digest& d : request->digests()) {
    if (!access_->ChunkVisible(*owner, d, &seen)) {
      *response->add_missing() = d;
      missing_bytes += d.size_bytes();
    }
  }
  // Said before any data moves, so a push over the quota fails at once.
  return ToGrpcStatus(quota_->CheckRoom(*owner, missing_bytes));
}

grpc::Status ContentStoreService::BatchUploadBlobs(grpc::ServerContext* context,
                                                   const v1::BatchUploadBlobsRequest* request,
                                                   v1::BatchUploadBlobsResponse* response) {
  absl::StatusOr<std::string> owner = identity_(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  if (absl::Status s = ValidateBatchUploadBlobsRequest(*request); !s.ok()) {
    return ToGrpcStatus(s);
  }
  int64_t total = 0;
  for (const v1::BlobData& blob : request->blobs()) {
    total += blob.compressor() == v1::COMPRESSOR_ZSTD ? blob.digest().size_bytes()
                                                      : static_cast<int64_t>(blob.data().size());
  }
  if (absl::Status s = quota_->CheckRoom(*owner, total); !s.ok()) return ToGrpcStatus(s);
  std::vector<v1Digest> stored;
  std::string plain;
  for (const v1::BlobData& blob : request->blobs()) {
    v1::BatchUploadBlobsResponse::Result* result = response->add_results();
    *result->mutable_digest() = blob.digest();
    absl::Status s;
    if (blob.compressor() == v1::COMPRESSOR_ZSTD) {
      s = ZstdCodec::Decompress(blob.data(), blob.digest().size_bytes(), &plain);
      if (s.ok()) s = store_->Put(blob.digest(), plain);
    } else {
      s = store_->Put(blob.digest(), blob.data());
    }
    if (s.ok()) stored.push_back(blob.digest());
    result->mutable_status()->set_code(static_cast<int32_t>(s.code()));
    result->mutable_status()->set_message(std::string(s.message().data(), s.message().size()));
  }
  access_->GrantAll(*owner, stored);
  return grpc::Status::OK;
}

grpc::Status ContentStoreService::UploadBlob(grpc::ServerContext* context,
                                             grpc::ServerReader<v1::UploadChunk>* reader,
                                             v1::UploadBlobResponse* response) {
  absl::StatusOr<std::string> owner = identity_(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  absl::StatusOr<StreamLimiter::Slot> slot = streams_->Acquire(*owner);
  if (!slot.ok()) return ToGrpcStatus(slot.status());
  v1::UploadChunk chunk;
  if (!reader->Read(&chunk)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "empty upload stream");
  }
  if (absl::Status s = ValidateUploadChunk(chunk, /*first=*/true); !s.ok()) return ToGrpcStatus(s);
  const v1Digest digest = chunk.digest();  // later chunks need not repeat it
  const bool held = access_->Visible(*owner, chunk.digest());
  if (!held) {
    const int64_t rest = chunk.digest().size_bytes() - std::max<int64_t>(0, chunk.offset());
    if (absl::Status s = quota_->CheckRoom(*owner, rest); !s.ok()) return ToGrpcStatus(s);
  }
  absl::StatusOr<std::unique_ptr<UploadSession>> session =
      uploads_->Begin(*owner, chunk.digest(), chunk.offset(), held);
  if (!session.ok()) return ToGrpcStatus(session.status());
  std::string plain;
  for (;;) {
    if (absl::Status s = ValidateUploadChunk(chunk, /*first=*/false); !s.ok()) {
      return ToGrpcStatus(s);
    }
    if ((*session)->complete()) break;  // already stored: nothing to write
    if (absl::Status s = WriteChunk(chunk, session->get(), &plain); !s.ok()) {
      return ToGrpcStatus(s);
    }
    if (chunk.finish_write()) {
      if (absl::Status s = (*session)->Finish(); !s.ok()) return ToGrpcStatus(s);
      access_->Grant(*owner, digest);
      break;
    }
    if (!reader->Read(&chunk)) break;  // client stopped: keep the partial upload
  }
  response->set_committed_size((*session)->offset());
  response->set_complete((*session)->complete());
  return grpc::Status::OK;
}

grpc::Status ContentStoreService::GetUploadStatus(grpc::ServerContext* context,
                                                  const v1::GetUploadStatusRequest* request,
                                                  v1::GetUploadStatusResponse* response) {
  absl::StatusOr<std::string> owner = identity_(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  if (absl::Status s = ValidateDigest(request->digest()); !s.ok()) return ToGrpcStatus(s);
  UploadManager::Status status = uploads_->GetStatus(*owner, request->digest());
  if (access_->Visible(*owner, request->digest())) {
    status.complete = true;
    status.committed_offset = request->digest().size_bytes();
  }
  response->set_committed_offset(status.committed_offset);
  response->set_complete(status.complete);
  return grpc::Status::OK;
}

absl::Status ContentStoreService::ReadForClient(const std::string& owner, const v1Digest& digest,
                                                std::string* data) const {
  absl::StatusOr<UniqueFd> fd = access_->Open(owner, digest);
  if (fd.ok()) return ReadExactlyAt(fd->get(), 0, digest.size_bytes(), data);
  absl::StatusOr<std::string> chunk = access_->ReadChunk(owner, digest);
  if (!chunk.ok()) return chunk.status();
  *data = std::move(*chunk);
  return absl::OkStatus();
}

grpc::Status ContentStoreService::ReadChunkInOne(const std::string& owner,
                                                 const v1::ReadBlobRequest& request,
                                                 grpc::ServerWriter<v1::ReadBlobChunk>* writer) {
  // A chunk known only inside a whole file: small, read and verified whole.
  const v1Digest& d = request.digest();
  absl::StatusOr<std::string> data = access_->ReadChunk(owner, d);
  if (!data.ok()) return ToGrpcStatus(data.status());
  const int64_t offset = request.offset();
  const int64_t end = request.limit() == 0 || request.limit() > d.size_bytes() - offset
                          ? d.size_bytes()
                          : offset + request.limit();
  v1::ReadBlobChunk chunk;
  chunk.set_offset(offset);
  chunk.set_data(data->substr(static_cast<size_t>(offset), static_cast<size_t>(end - offset)));
  chunk.set_compressor(
      MaybeCompress(AcceptsZstd(request.acceptable_compressors()), chunk.mutable_data()));
  if (!writer->Write(chunk)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
  return grpc::Status::OK;
}

grpc::Status ContentStoreService::BatchReadBlobs(grpc::ServerContext* context,
                                                 const v1::BatchReadBlobsRequest* request,
                                                 v1::BatchReadBlobsResponse* response) {
  absl::StatusOr<std::string> owner = identity_(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  if (absl::Status s = ValidateBatchReadBlobsRequest(*request); !s.ok()) return ToGrpcStatus(s);
  const bool zstd = AcceptsZstd(request->acceptable_compressors());
  for (const v1Digest& d : request->digests()) {
    v1::BatchReadBlobsResponse::Result* result = response->add_results();
    *result->mutable_digest() = d;
    std::string* data = result->mutable_data();
    if (!ReadForClient(*owner, d, data).ok()) {
      result->clear_data();
      result->mutable_status()->set_code(static_cast<int32_t>(absl::StatusCode::kNotFound));
      result->mutable_status()->set_message(absl::StrCat("blob ", DigestKey(d), " missing"));
      continue;
    }
    result->set_compressor(MaybeCompress(zstd, data));
  }
  return grpc::Status::OK;
}

grpc::Status ContentStoreService::ReadBlob(grpc::ServerContext* context,
                                           const v1::ReadBlobRequest* request,
                                           grpc::ServerWriter<v1::ReadBlobChunk>* writer) {
  absl::StatusOr<std::string> owner = identity_(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  absl::StatusOr<StreamLimiter::Slot> slot = streams_->Acquire(*owner);
  if (!slot.ok()) return ToGrpcStatus(slot.status());
  const v1Digest& d = request->digest();
  if (absl::Status s = ValidateReadBlobRequest(*request); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<UniqueFd> opened = access_->Open(*owner, d);
  if (!opened.ok()) return ReadChunkInOne(*owner, *request, writer);
  UniqueFd fd = std::move(*opened);
  const bool zstd = AcceptsZstd(request->acceptable_compressors());
  int64_t offset = request->offset();
  const int64_t end = request->limit() == 0 || request->limit() > d.size_bytes() - offset
                          ? d.size_bytes()
                          : offset + request->limit();
  v1::ReadBlobChunk chunk;
  std::string* buffer = chunk.mutable_data();
  do {
    const size_t want = static_cast<size_t>(std::min<int64_t>(kMaxPayloadBytes, end - offset));
    buffer->resize(want);
    size_t got = 0;
    while (got < want) {
      ssize_t n =
          pread(fd.get(), buffer->data() + got, want - got, offset + static_cast<int64_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return grpc::Status(grpc::StatusCode::DATA_LOSS, "blob shorter than its digest");
      got += static_cast<size_t>(n);
    }
    chunk.set_offset(offset);
    chunk.set_compressor(MaybeCompress(zstd, buffer));
    if (!writer->Write(chunk)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    offset += static_cast<int64_t>(want);
  } while (offset < end);
  if (store_->Has(d)) store_->Touch(d);
  return grpc::Status::OK;
}

}  // namespace mlcube
