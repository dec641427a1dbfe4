// libFuzzer target over the agent's request validation (agent/
// request_validator.h), which every service runs before it acts. The first
// input byte picks the request type; the rest is parsed as that protobuf.
//
// An accepted request must be safe to act on: ids and names are single
// directory components, paths stay below their root, env names are real
// variable names, sizes are within the limits. A refused one must say why
// in a short message with no control bytes (it goes to logs and terminals).

#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "agent/validation/request_validator.h"
#include "common/safe_path.h"

namespace {

namespace v1 = ::mlcube_remote::v1;

void Require(bool condition) {
  if (!condition) abort();
}

void CheckRefusal(const absl::Status& status) {
  if (status.ok()) return;
  const absl::string_view message = status.message();
  Require(!message.empty() && message.size() <= 1024);
  for (char c : message) {
    const unsigned char u = static_cast<unsigned char>(c);
    Require(u >= 0x20 && u != 0x7f);
  }
}

// A name the agent may use as one directory component.
void RequireComponent(const std::string& name) {
  Require(!name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
          name.find('\0') == std::string::npos);
  auto joined = mlcube::JoinConfined("/state/cubes/uid-1", name);
  Require(joined.ok() && mlcube::IsWithin(*joined, "/state/cubes/uid-1"));
}

void RequireBelow(const std::string& path, const std::string& root) {
  auto joined = mlcube::JoinConfined(root, path);
  Require(joined.ok() && mlcube::IsWithin(*joined, root) && mlcube::NormalizePath(*joined) != root);
}

void RequireDigest(const v1::Digest& d) {
  Require(d.hash().size() == 64 && d.size_bytes() >= 0);
  for (char c : d.hash()) Require((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
}

void CheckSubmit(const v1::SubmitJobRequest& r) {
  RequireComponent(r.cube_id());
  Require(r.action() == v1::JOB_ACTION_CONFIGURE || r.action() == v1::JOB_ACTION_RUN);
  Require(r.action() != v1::JOB_ACTION_RUN || r.tasks_size() > 0);
  for (const std::string& t : r.tasks()) RequireComponent(t);
  if (!r.platform_file().empty()) RequireBelow(r.platform_file(), "/state/cubes/uid-1/c");
  for (const auto& [key, value] : r.env()) {
    Require(!key.empty() && !(key[0] >= '0' && key[0] <= '9'));
    for (char c : key) {
      Require((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_');
    }
    Require(value.find('\0') == std::string::npos);
  }
  for (const auto* map : {&r.overrides(), &r.platform_defaults()}) {
    for (const auto& [key, value] : *map) {
      Require(!key.empty() && key.find('=') == std::string::npos &&
              key.find('\n') == std::string::npos && value.find('\0') == std::string::npos);
    }
  }
  const std::string& gpus = r.gpus();
  Require(gpus.find_first_of(" ;'\"$`\\\n") == std::string::npos);
}

template <typename Message, typename Check>
void Try(const std::string& bytes, absl::Status (*validate)(const Message&), Check check) {
  Message request;
  if (!request.ParseFromString(bytes)) return;
  const absl::Status status = validate(request);
  CheckRefusal(status);
  if (status.ok()) check(request);
}

absl::Status ValidateFirstChunk(const v1::UploadChunk& chunk) {
  return mlcube::ValidateUploadChunk(chunk, true);
}

void Quiet(google::protobuf::LogLevel, const char*, int, const std::string&) {}

}  // namespace

// Parsing refuses invalid UTF-8 in string fields with a log line each; the
// fuzzer makes millions of those.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(Quiet);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 11) {
    case 0:
      Try(bytes, mlcube::ValidateSubmitJobRequest, CheckSubmit);
      break;
    case 1:
      Try(bytes, mlcube::ValidateListJobsRequest, [](const v1::ListJobsRequest& r) {
        if (!r.cube_id().empty()) RequireComponent(r.cube_id());
      });
      break;
    case 2:
      Try(bytes, mlcube::ValidateWatchJobRequest, [](const v1::WatchJobRequest& r) {
        RequireComponent(r.job_id());
        Require(r.job_id().size() == 8 && r.from_offset() >= 0);
      });
      break;
    case 3:
      Try(bytes, mlcube::ValidateFindMissingBlobsRequest, [](const v1::FindMissingBlobsRequest& r) {
        Require(r.digests_size() <= mlcube::RequestLimits::kMaxDigests);
        for (const v1::Digest& d : r.digests()) RequireDigest(d);
      });
      break;
    case 4:
      Try(bytes, mlcube::ValidateBatchUploadBlobsRequest, [](const v1::BatchUploadBlobsRequest& r) {
        int64_t total = 0;
        for (const v1::BlobData& b : r.blobs()) {
          RequireDigest(b.digest());
          total += static_cast<int64_t>(b.data().size());
        }
        Require(total <= mlcube::RequestLimits::kMaxPayloadBytes);
      });
      break;
    case 5:
      Try(bytes, ValidateFirstChunk, [](const v1::UploadChunk& c) {
        RequireDigest(c.digest());
        Require(c.offset() >= 0 && c.offset() <= c.digest().size_bytes());
        Require(static_cast<int64_t>(c.data().size()) <= mlcube::RequestLimits::kMaxPayloadBytes);
      });
      break;
    case 6:
      Try(bytes, mlcube::ValidateBatchReadBlobsRequest, [](const v1::BatchReadBlobsRequest& r) {
        int64_t total = 0;
        for (const v1::Digest& d : r.digests()) {
          RequireDigest(d);
          total += d.size_bytes();
        }
        Require(total <= mlcube::RequestLimits::kMaxPayloadBytes);
      });
      break;
    case 7:
      Try(bytes, mlcube::ValidateReadBlobRequest, [](const v1::ReadBlobRequest& r) {
        RequireDigest(r.digest());
        Require(r.offset() >= 0 && r.offset() <= r.digest().size_bytes() && r.limit() >= 0);
      });
      break;
    case 8:
      Try(bytes, mlcube::ValidateCommitManifestRequest, [](const v1::CommitManifestRequest& r) {
        RequireComponent(r.cube_id());
        RequireDigest(r.manifest_digest());
      });
      break;
    case 10:
      Try(bytes, mlcube::ValidateDeleteCubeRequest,
          [](const v1::DeleteCubeRequest& r) { RequireComponent(r.cube_id()); });
      break;
    default:
      Try(bytes, mlcube::ValidateSnapshotRequest, [](const v1::SnapshotRequest& r) {
        RequireComponent(r.cube_id());
        for (const std::string& p : r.paths()) RequireBelow(p, "/state/cubes/uid-1/c/workspace");
        if (!r.job_id().empty()) RequireComponent(r.job_id());
      });
      break;
  }
  return 0;
}
