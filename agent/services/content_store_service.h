#ifndef MLCUBE_REMOTE_AGENT_SERVICES_CONTENT_STORE_SERVICE_H_
#define MLCUBE_REMOTE_AGENT_SERVICES_CONTENT_STORE_SERVICE_H_

// gRPC ContentStore: find missing blobs, batched and streamed (resumable)
// uploads, batched and streamed reads. Every payload is checked against the
// 1 MiB limit and every blob against its digest before it is accepted.
// Each caller sees the store through BlobAccess (only blobs it uploaded or
// holds in its own workspaces; anything else is "missing"), stays within
// its stored-bytes quota and its number of open streams.

#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "agent/cas/blob_access.h"
#include "agent/cas/blob_store.h"
#include "agent/cas/storage_quota.h"
#include "agent/cas/upload_manager.h"
#include "agent/server/stream_limiter.h"
#include "agent/validation/request_validator.h"
#include "mlcube_remote/v1/content_store.grpc.pb.h"

namespace mlcube {

// Returns the authenticated caller ("uid-1000"); agent/caller_identity.h's
// CallerIdentity in the daemon.
using IdentityFn = std::function<absl::StatusOr<std::string>(const grpc::ServerContext&)>;

class ContentStoreService final : public ::mlcube_remote::v1::ContentStore::Service {
 public:
  static constexpr int64_t kMaxPayloadBytes = RequestLimits::kMaxPayloadBytes;

  // None owned.
  ContentStoreService(BlobStore* store, UploadManager* uploads, BlobAccess* access,
                      StorageQuota* quota, StreamLimiter* streams, IdentityFn identity)
      : store_(store),
        uploads_(uploads),
        access_(access),
        quota_(quota),
        streams_(streams),
        identity_(std::move(identity)) {}

  grpc::Status FindMissingBlobs(grpc::ServerContext* context,
                                const ::mlcube_remote::v1::FindMissingBlobsRequest* request,
                                ::mlcube_remote::v1::FindMissingBlobsResponse* response) override;
  grpc::Status BatchUploadBlobs(grpc::ServerContext* context,
                                const ::mlcube_remote::v1::BatchUploadBlobsRequest* request,
                                ::mlcube_remote::v1::BatchUploadBlobsResponse* response) override;
  grpc::Status UploadBlob(grpc::ServerContext* context,
                          grpc::ServerReader<::mlcube_remote::v1::UploadChunk>* reader,
                          ::mlcube_remote::v1::UploadBlobResponse* response) override;
  grpc::Status GetUploadStatus(grpc::ServerContext* context,
                               const ::mlcube_remote::v1::GetUploadStatusRequest* request,
                               ::mlcube_remote::v1::GetUploadStatusResponse* response) override;
  grpc::Status BatchReadBlobs(grpc::ServerContext* context,
                              const ::mlcube_remote::v1::BatchReadBlobsRequest* request,
                              ::mlcube_remote::v1::BatchReadBlobsResponse* response) override;
  grpc::Status ReadBlob(grpc::ServerContext* context,
                        const ::mlcube_remote::v1::ReadBlobRequest* request,
                        grpc::ServerWriter<::mlcube_remote::v1::ReadBlobChunk>* writer) override;

 private:
  // A blob's bytes, or a chunk's from inside a whole file (ChunkLocations).
  absl::Status ReadForClient(const std::string& owner, const v1Digest& digest,
                             std::string* data) const;
  // ReadBlob of a chunk known only inside a whole file: one message.
  grpc::Status ReadChunkInOne(const std::string& owner,
                              const ::mlcube_remote::v1::ReadBlobRequest& request,
                              grpc::ServerWriter<::mlcube_remote::v1::ReadBlobChunk>* writer);
  BlobStore* store_;
  UploadManager* uploads_;
  BlobAccess* access_;
  StorageQuota* quota_;
  StreamLimiter* streams_;
  IdentityFn identity_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SERVICES_CONTENT_STORE_SERVICE_H_
