#include "controller/sync/blob_uploader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/unique_fd.h"
#include "common/zstd_codec.h"
#include "controller/sync/parallel_runner.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

namespace {

constexpr int64_t kMaxPayload = 1 << 20;
constexpr int kFindMissingBatch = 10000;
constexpr size_t kMaxBlobsPerBatch = 4000;

void SetDeadline(grpc::ClientContext* ctx, int seconds) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
}

absl::StatusOr<UniqueFd> OpenItem(const UploadItem& item) {
  if (item.memory != nullptr) return UniqueFd();
  UniqueFd fd(open(item.file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return absl::NotFoundError(absl::StrCat("open ", item.file, ": ", strerror(errno)));
  return fd;
}

// Small blobs grouped into batches of at most 1 MiB.
std::vector<std::vector<const UploadItem*>> MakeBatches(
    const std::vector<const UploadItem*>& small) {
  std::vector<std::vector<const UploadItem*>> batches;
  int64_t batch_bytes = 0;
  for (const UploadItem* item : small) {
    if (batches.empty() || batch_bytes + item->digest.size_bytes() > kMaxPayload ||
        batches.back().size() >= kMaxBlobsPerBatch) {
      batches.emplace_back();
      batch_bytes = 0;
    }
    batches.back().push_back(item);
    batch_bytes += item->digest.size_bytes();
  }
  return batches;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

v1::Compressor BlobUploader::MaybeCompress(std::string* data) const {
  if (compression_ == nullptr) return v1::COMPRESSOR_IDENTITY;
  const int level = compression_->Level();
  std::string compressed;
  if (level <= 0 || !ZstdCodec::CompressIfWorthwhile(*data, level, &compressed)) {
    return v1::COMPRESSOR_IDENTITY;
  }
  data->swap(compressed);
  return v1::COMPRESSOR_ZSTD;
}

std::string DescribeItem(const UploadItem& item) {
  if (item.memory != nullptr) return item.file.empty() ? "the manifest" : item.file;
  if (!item.counts_as_file) return absl::StrCat(item.file, " (at byte ", item.offset, ")");
  return item.file;
}

absl::Status ReadItemRange(const UploadItem& item, int fd, int64_t at, int64_t size,
                           std::string* out) {
  if (item.memory != nullptr) {
    out->assign(*item.memory, static_cast<size_t>(at), static_cast<size_t>(size));
    return absl::OkStatus();
  }
  out->resize(static_cast<size_t>(size));
  size_t got = 0;
  while (got < static_cast<size_t>(size)) {
    ssize_t n = pread(fd, out->data() + got, static_cast<size_t>(size) - got,
                      item.offset + at + static_cast<int64_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::DataLossError(
          absl::StrCat(item.file, " changed during the sync (shorter than scanned)"));
    }
    got += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::flat_hash_set<std::string>> BlobUploader::FindMissing(
    const std::vector<v1Digest>& digests) {
  absl::flat_hash_set<std::string> missing;
  for (size_t begin = 0; begin < digests.size(); begin += kFindMissingBatch) {
    v1::FindMissingBlobsRequest request;
    const size_t end = std::min(digests.size(), begin + kFindMissingBatch);
    for (size_t i = begin; i < end; ++i) *request.add_digests() = digests[i];
    grpc::ClientContext ctx;
    SetDeadline(&ctx, 60);
    v1::FindMissingBlobsResponse response;
    grpc::Status s = cas_->FindMissingBlobs(&ctx, request, &response);
    if (!s.ok()) return FromGrpcStatus(s, "FindMissingBlobs");
    for (const v1Digest& d : response.missing()) missing.insert(d.hash());
  }
  return missing;
}

absl::StatusOr<int64_t> BlobUploader::UploadAll(const std::vector<const UploadItem*>& items,
                                                ProgressReporter* progress) {
  std::vector<const UploadItem*> small;
  std::vector<const UploadItem*> large;
  for (const UploadItem* item : items) {
    (item->digest.size_bytes() <= kBatchThreshold ? small : large).push_back(item);
  }
  // Large blobs first (biggest first), then batches of small ones.
  std::sort(large.begin(), large.end(), [](const UploadItem* a, const UploadItem* b) {
    return a->digest.size_bytes() > b->digest.size_bytes();
  });
  const std::vector<std::vector<const UploadItem*>> batches = MakeBatches(small);
  std::atomic<int64_t> bytes_sent{0};
  absl::Status status = RunParallel(large.size() + batches.size(), [&](size_t i) {
    absl::StatusOr<int64_t> sent = i < large.size()
                                       ? UploadStreamed(*large[i], progress)
                                       : UploadBatch(batches[i - large.size()], progress);
    if (!sent.ok()) return sent.status();
    bytes_sent += *sent;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return bytes_sent.load();
}

absl::StatusOr<v1::GetUploadStatusResponse> BlobUploader::UploadStatus(const v1Digest& digest) {
  v1::GetUploadStatusRequest request;
  *request.mutable_digest() = digest;
  v1::GetUploadStatusResponse status;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 60);
  grpc::Status s = cas_->GetUploadStatus(&ctx, request, &status);
  if (!s.ok()) return FromGrpcStatus(s, "GetUploadStatus");
  return status;
}

absl::StatusOr<int64_t> BlobUploader::StreamFrom(const UploadItem& item, int64_t offset,
                                                 v1::UploadBlobResponse* response,
                                                 grpc::Status* rpc_status,
                                                 ProgressReporter* progress) {
  absl::StatusOr<UniqueFd> fd = OpenItem(item);
  if (!fd.ok()) return fd.status();
  if (*fd) posix_fadvise(fd->get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  grpc::ClientContext ctx;
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<grpc::ClientWriter<v1::UploadChunk>> writer = cas_->UploadBlob(&ctx, response);
  const int64_t size = item.digest.size_bytes();
  int64_t sent = 0;
  v1::UploadChunk chunk;
  *chunk.mutable_digest() = item.digest;
  absl::Status local_error;
  do {
    const int64_t want = std::min<int64_t>(kMaxPayload, size - offset);
    local_error = ReadItemRange(item, fd->get(), offset, want, chunk.mutable_data());
    if (!local_error.ok()) break;
    chunk.set_compressor(MaybeCompress(chunk.mutable_data()));
    chunk.set_offset(offset);
    chunk.set_finish_write(offset + want == size);
    if (!writer->Write(chunk)) break;  // the agent ended the stream; Finish says why
    chunk.clear_digest();
    offset += want;
    sent += static_cast<int64_t>(chunk.data().size());
    if (progress != nullptr) progress->AddBytes(want);
  } while (offset < size);
  writer->WritesDone();
  *rpc_status = writer->Finish();
  if (!local_error.ok()) return local_error;
  if (compression_ != nullptr) compression_->Observe(sent, SecondsSince(start));
  return sent;
}

absl::StatusOr<int64_t> BlobUploader::UploadStreamed(const UploadItem& item,
                                                     ProgressReporter* progress) {
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<v1::GetUploadStatusResponse> status = UploadStatus(item.digest);
    if (!status.ok()) return status.status();
    if (status->complete()) return 0;
    v1::UploadBlobResponse response;
    grpc::Status s;
    absl::StatusOr<int64_t> sent =
        StreamFrom(item, status->committed_offset(), &response, &s, progress);
    if (!sent.ok()) return sent.status();
    if (s.error_code() == grpc::StatusCode::ABORTED && attempt < 100) {
      // Another stream uploads the same blob (a twin file): wait for it.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (!s.ok()) {
      if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT && item.memory == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("agent refused ", DescribeItem(item), ": ",
                                                       s.error_message(),
                                                       " (did it change during the sync?)"));
      }
      return FromGrpcStatus(s, absl::StrCat("uploading ", DescribeItem(item)));
    }
    if (!response.complete()) {
      return absl::DataLossError(absl::StrCat("upload of ", DescribeItem(item),
                                              " ended incomplete at ", response.committed_size()));
    }
    if (progress != nullptr && item.counts_as_file) progress->AddFiles(1);
    return *sent;
  }
}

absl::StatusOr<int64_t> BlobUploader::UploadBatch(const std::vector<const UploadItem*>& batch,
                                                  ProgressReporter* progress) {
  v1::BatchUploadBlobsRequest request;
  int64_t bytes = 0;
  int64_t wire = 0;
  int64_t files = 0;
  for (const UploadItem* item : batch) {
    v1::BlobData* blob = request.add_blobs();
    *blob->mutable_digest() = item->digest;
    absl::StatusOr<UniqueFd> fd = OpenItem(*item);
    if (!fd.ok()) return fd.status();
    absl::Status read =
        ReadItemRange(*item, fd->get(), 0, item->digest.size_bytes(), blob->mutable_data());
    if (!read.ok()) return read;
    blob->set_compressor(MaybeCompress(blob->mutable_data()));
    bytes += item->digest.size_bytes();
    wire += static_cast<int64_t>(blob->data().size());
    if (item->counts_as_file) ++files;
  }
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 300);
  v1::BatchUploadBlobsResponse response;
  const auto start = std::chrono::steady_clock::now();
  grpc::Status s = cas_->BatchUploadBlobs(&ctx, request, &response);
  if (!s.ok()) return FromGrpcStatus(s, "BatchUploadBlobs");
  if (compression_ != nullptr) compression_->Observe(wire, SecondsSince(start));
  for (int j = 0; j < response.results_size(); ++j) {
    const v1::ItemStatus& item_status = response.results(j).status();
    if (item_status.code() == 0) continue;
    const std::string what =
        j < static_cast<int>(batch.size()) ? DescribeItem(*batch[j]) : std::string("a blob");
    return absl::Status(static_cast<absl::StatusCode>(item_status.code()),
                        absl::StrCat("agent refused ", what, ": ", item_status.message()));
  }
  if (progress != nullptr) {
    progress->AddBytes(bytes);
    progress->AddFiles(files);
  }
  return wire;
}

}  // namespace mlcube
