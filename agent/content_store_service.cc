#include "agent/content_store_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/unique_fd.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message().data(), status.message().size()));
}

grpc::Status ContentStoreService::Authenticate(const grpc::ServerContext& context) const {
  absl::StatusOr<std::string> who = identity_(context);
  if (!who.ok()) return ToGrpcStatus(who.status());
  return grpc::Status::OK;
}

bool ContentStoreService::Present(const v1Digest& digest) const {
  return store_->Has(digest) || (index_ != nullptr && index_->Has(digest));
}

absl::StatusOr<UniqueFd> ContentStoreService::OpenBlob(const v1Digest& digest) const {
  if (store_->Has(digest)) {
    UniqueFd fd(open(store_->PathOf(digest).c_str(), O_RDONLY | O_CLOEXEC));
    if (fd) return fd;
  }
  if (index_ != nullptr) return index_->OpenLive(digest);
  return absl::NotFoundError(absl::StrCat("blob ", DigestKey(digest), " missing"));
}

grpc::Status ContentStoreService::FindMissingBlobs(grpc::ServerContext* context,
                                                   const v1::FindMissingBlobsRequest* request,
                                                   v1::FindMissingBlobsResponse* response) {
  if (grpc::Status s = Authenticate(*context); !s.ok()) return s;
  if (request->digests_size() > kMaxDigestsPerRequest) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("at most ", kMaxDigestsPerRequest, " digests per request"));
  }
  for (const v1Digest& d : request->digests()) {
    if (absl::Status s = ValidateDigest(d); !s.ok()) return ToGrpcStatus(s);
    if (!Present(d)) *response->add_missing() = d;
  }
  return grpc::Status::OK;
}

grpc::Status ContentStoreService::BatchUploadBlobs(grpc::ServerContext* context,
                                                   const v1::BatchUploadBlobsRequest* request,
                                                   v1::BatchUploadBlobsResponse* response) {
  if (grpc::Status s = Authenticate(*context); !s.ok()) return s;
  int64_t total = 0;
  for (const v1::BlobData& blob : request->blobs())
    total += static_cast<int64_t>(blob.data().size());
  if (total > kMaxPayloadBytes) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("batch carries ", total, " bytes, limit ", kMaxPayloadBytes));
  }
  for (const v1::BlobData& blob : request->blobs()) {
    v1::BatchUploadBlobsResponse::Result* result = response->add_results();
    *result->mutable_digest() = blob.digest();
    absl::Status s = store_->Put(blob.digest(), blob.data());
    result->mutable_status()->set_code(static_cast<int32_t>(s.code()));
    result->mutable_status()->set_message(std::string(s.message().data(), s.message().size()));
  }
  return grpc::Status::OK;
}

grpc::Status ContentStoreService::UploadBlob(grpc::ServerContext* context,
                                             grpc::ServerReader<v1::UploadChunk>* reader,
                                             v1::UploadBlobResponse* response) {
  if (grpc::Status s = Authenticate(*context); !s.ok()) return s;
  v1::UploadChunk chunk;
  if (!reader->Read(&chunk)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "empty upload stream");
  }
  absl::StatusOr<std::unique_ptr<UploadSession>> session =
      uploads_->Begin(chunk.digest(), chunk.offset());
  if (!session.ok()) return ToGrpcStatus(session.status());
  for (;;) {
    if (static_cast<int64_t>(chunk.data().size()) > kMaxPayloadBytes) {
      return grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("chunk of ", chunk.data().size(), " bytes, limit ", kMaxPayloadBytes));
    }
    if ((*session)->complete()) break;  // already stored: nothing to write
    if (absl::Status s = (*session)->Write(chunk.offset(), chunk.data()); !s.ok()) {
      return ToGrpcStatus(s);
    }
    if (chunk.finish_write()) {
      if (absl::Status s = (*session)->Finish(); !s.ok()) return ToGrpcStatus(s);
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
  if (grpc::Status s = Authenticate(*context); !s.ok()) return s;
  if (absl::Status s = ValidateDigest(request->digest()); !s.ok()) return ToGrpcStatus(s);
  UploadManager::Status status = uploads_->GetStatus(request->digest());
  if (!status.complete && index_ != nullptr && index_->Has(request->digest())) {
    status.complete = true;
    status.committed_offset = request->digest().size_bytes();
  }
  response->set_committed_offset(status.committed_offset);
  response->set_complete(status.complete);
  return grpc::Status::OK;
}

grpc::Status ContentStoreService::BatchReadBlobs(grpc::ServerContext* context,
                                                 const v1::BatchReadBlobsRequest* request,
                                                 v1::BatchReadBlobsResponse* response) {
  if (grpc::Status s = Authenticate(*context); !s.ok()) return s;
  int64_t total = 0;
  for (const v1Digest& d : request->digests()) {
    if (absl::Status s = ValidateDigest(d); !s.ok()) return ToGrpcStatus(s);
    total += d.size_bytes();
  }
  if (total > kMaxPayloadBytes) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("batch read of ", total, " bytes, limit ", kMaxPayloadBytes));
  }
  for (const v1Digest& d : request->digests()) {
    v1::BatchReadBlobsResponse::Result* result = response->add_results();
    *result->mutable_digest() = d;
    absl::StatusOr<UniqueFd> fd = OpenBlob(d);
    std::string* data = result->mutable_data();
    data->resize(static_cast<size_t>(d.size_bytes()));
    size_t got = 0;
    while (fd.ok() && got < data->size()) {
      ssize_t n = pread(fd->get(), data->data() + got, data->size() - got, static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    if (!fd.ok() || got < data->size()) {
      result->clear_data();
      result->mutable_status()->set_code(static_cast<int32_t>(absl::StatusCode::kNotFound));
      result->mutable_status()->set_message(absl::StrCat("blob ", DigestKey(d), " missing"));
    }
  }
  return grpc::Status::OK;
}

grpc::Status ContentStoreService::ReadBlob(grpc::ServerContext* context,
                                           const v1::ReadBlobRequest* request,
                                           grpc::ServerWriter<v1::ReadBlobChunk>* writer) {
  if (grpc::Status s = Authenticate(*context); !s.ok()) return s;
  const v1Digest& d = request->digest();
  if (absl::Status s = ValidateDigest(d); !s.ok()) return ToGrpcStatus(s);
  if (request->offset() < 0 || request->offset() > d.size_bytes() || request->limit() < 0) {
    return grpc::Status(grpc::StatusCode::OUT_OF_RANGE, "offset or limit out of range");
  }
  absl::StatusOr<UniqueFd> opened = OpenBlob(d);
  if (!opened.ok()) return ToGrpcStatus(opened.status());
  UniqueFd fd = std::move(*opened);
  int64_t offset = request->offset();
  const int64_t end =
      request->limit() == 0 ? d.size_bytes() : std::min(d.size_bytes(), offset + request->limit());
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
    if (!writer->Write(chunk)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    offset += static_cast<int64_t>(want);
  } while (offset < end);
  if (store_->Has(d)) store_->Touch(d);
  return grpc::Status::OK;
}

}  // namespace mlcube
