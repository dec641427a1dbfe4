#include "agent/services/workspaces_service.h"

#include "absl/strings/str_cat.h"
#include "agent/log/log.h"
#include "agent/validation/request_validator.h"
#include "common/grpc_status.h"
#include "common/protocol_features.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

void WorkspacesService::MarkWorkspaceUsed(const std::string& owner, const std::string& cube_id) {
  if (!ValidateCubeId(cube_id).ok()) return;
  absl::MutexLock cube_lock(parts_.locks->For(owner, cube_id));
  LogIfError(absl::StrCat("cube ", owner, "/", cube_id, ": marking its workspace used"),
             parts_.records->MarkWorkspaceUsed(owner, cube_id));
}

grpc::Status WorkspacesService::CommitManifest(grpc::ServerContext* context,
                                               const v1::CommitManifestRequest* request,
                                               v1::CommitManifestResponse* response) {
  absl::StatusOr<std::string> owner = identity_(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  // Also bounds the manifest's size (kMaxManifestBytes) before it is read.
  if (absl::Status s = ValidateCommitManifestRequest(*request); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<WorkspaceMaterializer::Result> result = parts_.committer->Commit(*owner, *request);
  if (!result.ok()) return ToGrpcStatus(result.status());
  response->set_files_written(result->files_written);
  response->set_files_removed(result->files_removed);
  response->set_bytes_written(result->bytes_written);
  response->set_files_unchanged(result->files_unchanged);
  if (request->dry_run()) return grpc::Status::OK;
  *response->mutable_committed_manifest() = request->manifest_digest();
  LogIfError("collecting unused blobs", parts_.collector->MaybeCollect());
  return grpc::Status::OK;
}

absl::StatusOr<std::vector<std::string>> WorkspacesService::SnapshotPaths(
    const std::string& owner, const v1::SnapshotRequest& request) {
  std::vector<std::string> paths(request.paths().begin(), request.paths().end());
  if (request.job_id().empty()) return paths;
  // The outputs of the job's tasks, as the cube declares them.
  if (parts_.jobs == nullptr) return absl::UnimplementedError("this agent runs no jobs");
  absl::StatusOr<CubeJobs::Outputs> outputs = parts_.jobs->OutputsOf(owner, request.job_id());
  if (!outputs.ok()) return outputs.status();
  if (outputs->cube_id != request.cube_id()) {
    return absl::InvalidArgumentError(absl::StrCat("job ", request.job_id(), " ran cube '",
                                                   outputs->cube_id, "', not '", request.cube_id(),
                                                   "'"));
  }
  paths.insert(paths.end(), outputs->paths.begin(), outputs->paths.end());
  if (paths.empty()) {
    return absl::NotFoundError(
        absl::StrCat("job ", request.job_id(), " has no outputs in the workspace"));
  }
  return paths;
}

grpc::Status WorkspacesService::Snapshot(grpc::ServerContext* context,
                                         const v1::SnapshotRequest* request,
                                         v1::SnapshotResponse* response) {
  absl::StatusOr<std::string> owner = identity_(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  if (absl::Status s = ValidateSnapshotRequest(*request); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<std::vector<std::string>> paths = SnapshotPaths(*owner, *request);
  if (!paths.ok()) return ToGrpcStatus(paths.status());
  WorkspaceSnapshotter::Request snapshot;
  snapshot.cube_id = request->cube_id();
  snapshot.paths = std::move(*paths);
  // A job's output that its task never wrote is simply not there.
  snapshot.tolerate_missing = !request->job_id().empty() || request->skip_missing();
  snapshot.chunk_big_files = request->chunk_big_files();
  absl::StatusOr<WorkspaceSnapshotter::Result> result = parts_.snapshotter->Take(*owner, snapshot);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response->mutable_manifest_digest() = result->manifest;
  response->set_file_count(result->file_count);
  response->set_total_bytes(result->total_bytes);
  return grpc::Status::OK;
}

grpc::Status WorkspacesService::ListCubes(grpc::ServerContext* context,
                                          const v1::ListCubesRequest* request,
                                          v1::ListCubesResponse* response) {
  absl::StatusOr<std::string> owner = identity_(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  response->add_features(kFeatureChunkedFiles);
  response->add_features(kFeatureZstd);
  for (v1::CubeSummary& summary : parts_.records->List(*owner)) {
    *response->add_cubes() = std::move(summary);
  }
  return grpc::Status::OK;
}

grpc::Status WorkspacesService::DeleteCube(grpc::ServerContext* context,
                                           const v1::DeleteCubeRequest* request,
                                           v1::DeleteCubeResponse* response) {
  absl::StatusOr<std::string> owner = identity_(*context);
  if (!owner.ok()) return ToGrpcStatus(owner.status());
  if (absl::Status s = ValidateDeleteCubeRequest(*request); !s.ok()) return ToGrpcStatus(s);
  const std::string& cube_id = request->cube_id();
  if (parts_.jobs != nullptr) {
    std::vector<std::string> active = parts_.jobs->UnfinishedJobsOf(*owner, cube_id);
    if (!active.empty()) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("job ", active.front(), " of cube '", cube_id,
                                       "' has not finished; cancel it first"));
    }
  }
  absl::StatusOr<int64_t> freed = parts_.remover->Remove(*owner, cube_id);
  parts_.quota->Invalidate(*owner);
  if (!freed.ok()) return ToGrpcStatus(freed.status());
  response->set_bytes_freed(*freed);
  return grpc::Status::OK;
}

}  // namespace mlcube
