#include "controller/sync/sync_client.h"

#include <cctype>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "controller/sync/pull_operation.h"
#include "controller/sync/push_operation.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

std::string SyncClient::DefaultCubeId(const std::string& cube_root) {
  std::string base = std::filesystem::path(cube_root).filename().string();
  std::string safe;
  for (char c : base) {
    safe.push_back(
        isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ? c : '_');
  }
  if (safe.empty() || safe == "." || safe == "..") safe = "cube";
  if (safe.size() > 119) safe.resize(119);
  return absl::StrCat(safe, "-", DigestOf(cube_root).hash().substr(0, 8));
}

SyncClient::SyncClient(std::shared_ptr<grpc::Channel> channel, ScanCache* cache)
    : channel_(std::move(channel)),
      cas_(v1::ContentStore::NewStub(channel_)),
      workspaces_(v1::Workspaces::NewStub(channel_)),
      cache_(cache) {}

absl::StatusOr<PushStats> SyncClient::Push(const PushOptions& options) {
  return PushOperation(cas_.get(), workspaces_.get(), cache_, options).Run();
}

absl::StatusOr<PullStats> SyncClient::Pull(const PullOptions& options) {
  return PullOperation(cas_.get(), workspaces_.get(), cache_, options).Run();
}

}  // namespace mlcube
