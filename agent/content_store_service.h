#ifndef MLCUBE_REMOTE_AGENT_CONTENT_STORE_SERVICE_H_
#define MLCUBE_REMOTE_AGENT_CONTENT_STORE_SERVICE_H_

// gRPC ContentStore: find missing blobs, batched and streamed (resumable)
// uploads, batched and streamed reads. Every payload is checked against the
// 1 MiB limit and every blob against its digest before it is accepted.
//
// TODO(security issue): blobs are shared by all callers (stored once); a
// caller that knows a digest can read that blob. Per-identity visibility
// needs an index of which identity uploaded or committed which blob.

#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "agent/blob_store.h"
#include "agent/upload_manager.h"
#include "agent/workspace_blob_index.h"
#include "mlcube_remote/v1/content_store.grpc.pb.h"

namespace mlcube {

// Returns the authenticated caller ("uid-1000"); agent/caller_identity.h's
// CallerIdentity in the daemon.
using IdentityFn = std::function<absl::StatusOr<std::string>(const grpc::ServerContext&)>;

class ContentStoreService final : public ::mlcube_remote::v1::ContentStore::Service {
 public:
  static constexpr int64_t kMaxPayloadBytes = 1 << 20;
  static constexpr int kMaxDigestsPerRequest = 10000;

  // `index` (not owned, may be null) finds blobs that commits moved into
  // workspaces.
  ContentStoreService(BlobStore* store, UploadManager* uploads, WorkspaceBlobIndex* index,
                      IdentityFn identity)
      : store_(store), uploads_(uploads), index_(index), identity_(std::move(identity)) {}

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
  grpc::Status Authenticate(const grpc::ServerContext& context) const;

  bool Present(const v1Digest& digest) const;
  // Opens the blob from the store or a workspace file.
  absl::StatusOr<UniqueFd> OpenBlob(const v1Digest& digest) const;

  BlobStore* store_;
  UploadManager* uploads_;
  WorkspaceBlobIndex* index_;
  IdentityFn identity_;
};

// absl::Status -> grpc::Status with the same code and message.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_CONTENT_STORE_SERVICE_H_
