#include "agent/validation/request_validator.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/digest.h"
#include "common/manifest_validator.h"
#include "common/safe_path.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

namespace {

// A bad value is quoted short and with control bytes escaped, so a refusal
// never echoes megabytes or terminal escapes into a log.
std::string Quote(const std::string& value) {
  return absl::StrCat("'", PrintableExcerpt(value, 60), "'");
}

absl::Status Bad(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

bool IsNameChar(char c) {
  return isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

bool IsName(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max || s == "." || s == "..") return false;
  for (char c : s) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

bool HasControlBytes(const std::string& s) {
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

// -P keys and host settings: key paths such as "docker.image".
absl::Status ValidateKeyPathMap(const google::protobuf::Map<std::string, std::string>& map,
                                absl::string_view field) {
  if (map.size() > static_cast<size_t>(RequestLimits::kMaxMapEntries)) {
    return Bad(field, absl::StrCat("more than ", RequestLimits::kMaxMapEntries, " entries"));
  }
  for (const auto& [key, value] : map) {
    if (key.empty() || key.size() > RequestLimits::kMaxKeyBytes || HasControlBytes(key) ||
        key.find_first_of(" =") != std::string::npos) {
      return Bad(field, absl::StrCat("key ", Quote(key),
                                     " must be 1-256 characters without spaces, '=' or control "
                                     "characters"));
    }
    if (value.size() > RequestLimits::kMaxValueBytes || value.find('\0') != std::string::npos) {
      return Bad(absl::StrCat(field, "[", Quote(key), "]"),
                 "value is over 64 KiB or contains a NUL byte");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateEnv(const google::protobuf::Map<std::string, std::string>& env,
                         const std::string& field) {
  if (env.size() > static_cast<size_t>(RequestLimits::kMaxMapEntries)) {
    return Bad(field, absl::StrCat("more than ", RequestLimits::kMaxMapEntries, " variables"));
  }
  for (const auto& [key, value] : env) {
    bool ok = !key.empty() && key.size() <= RequestLimits::kMaxKeyBytes &&
              !isdigit(static_cast<unsigned char>(key[0]));
    for (char c : key) ok = ok && (isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!ok) {
      return Bad(field, absl::StrCat("variable name ", Quote(key),
                                     " must be letters, digits and '_', not starting with a "
                                     "digit"));
    }
    if (value.size() > RequestLimits::kMaxValueBytes || value.find('\0') != std::string::npos) {
      return Bad(absl::StrCat(field, ".", key), "value is over 64 KiB or contains a NUL byte");
    }
  }
  return absl::OkStatus();
}

// input_trees: "../DIR/..." (normalised, leaving the cube's root) -> a
// cube id.
absl::Status ValidateInputTrees(const mlcube_remote::v1::SubmitJobRequest& request) {
  if (request.input_trees().size() > static_cast<size_t>(RequestLimits::kMaxMapEntries)) {
    return Bad("input_trees", "too many entries");
  }
  for (const auto& [dir, id] : request.input_trees()) {
    absl::string_view rest = dir;
    bool up = false;
    while (absl::ConsumePrefix(&rest, "../")) up = true;
    if (!up || rest.empty() || dir.size() > RequestLimits::kMaxPathBytes ||
        !ValidateRelativePath(rest).ok() || NormalizePath(dir) != dir) {
      return Bad("input_trees",
                 absl::StrCat(Quote(dir), " must be ../ components then a relative path"));
    }
    if (!IsName(id, 128)) return Bad(absl::StrCat("input_trees.", Quote(dir)), "is not a cube id");
  }
  return absl::OkStatus();
}

// "", "all", a count, or "device=ID[,ID...]".
absl::Status ValidateGpus(const std::string& gpus) {
  if (gpus.empty() || gpus == "all") return absl::OkStatus();
  auto all_of = [](absl::string_view s, auto pred) {
    if (s.empty()) return false;
    for (char c : s) {
      if (!pred(c)) return false;
    }
    return true;
  };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (gpus.size() <= 4 && all_of(gpus, digit)) return absl::OkStatus();
  const absl::string_view prefix = "device=";
  if (gpus.size() > prefix.size() && gpus.size() <= 1024 &&
      absl::string_view(gpus).substr(0, prefix.size()) == prefix) {
    bool ok = true;
    absl::string_view ids = absl::string_view(gpus).substr(prefix.size());
    size_t start = 0;
    while (ok && start <= ids.size()) {
      size_t comma = ids.find(',', start);
      if (comma == absl::string_view::npos) comma = ids.size();
      ok = all_of(ids.substr(start, comma - start),
                  [](char c) { return isalnum(static_cast<unsigned char>(c)) || c == '-'; });
      start = comma + 1;
    }
    if (ok) return absl::OkStatus();
  }
  return Bad("gpus", absl::StrCat(Quote(gpus), " must be empty, all, a count, or device=ID,..."));
}

absl::Status ValidateDigestField(const v1::Digest& digest, absl::string_view field) {
  if (absl::Status s = ValidateDigest(digest); !s.ok()) return Bad(field, s.message());
  return absl::OkStatus();
}

absl::Status ValidateOptionalCubeId(const std::string& id) {
  return id.empty() ? absl::OkStatus() : ValidateCubeId(id);
}

}  // namespace

absl::Status ValidateCubeId(const std::string& id) {
  if (!IsName(id, 128)) {
    return Bad("cube_id", absl::StrCat(Quote(id), " must match [A-Za-z0-9._-]{1,128}"));
  }
  return absl::OkStatus();
}

bool IsValidJobId(const std::string& id) {
  if (id.size() != 8) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::Status ValidateSubmitJobRequest(const v1::SubmitJobRequest& request) {
  if (absl::Status s = ValidateCubeId(request.cube_id()); !s.ok()) return s;
  if (absl::Status s = ValidateInputTrees(request); !s.ok()) return s;
  if (!request.build_context_id().empty() && !IsName(request.build_context_id(), 128)) {
    return Bad("build_context_id", absl::StrCat(Quote(request.build_context_id()),
                                                " must match [A-Za-z0-9._-]{1,128}"));
  }
  if (request.action() != v1::JOB_ACTION_CONFIGURE && request.action() != v1::JOB_ACTION_RUN) {
    return Bad("action", "must be configure or run");
  }
  if (request.action() == v1::JOB_ACTION_RUN && request.tasks().empty()) {
    return Bad("tasks", "run needs at least one task");
  }
  if (request.tasks_size() > RequestLimits::kMaxTasks) {
    return Bad("tasks", absl::StrCat("more than ", RequestLimits::kMaxTasks, " tasks"));
  }
  for (const std::string& task : request.tasks()) {
    if (!IsName(task, 128)) {
      return Bad("tasks",
                 absl::StrCat("task name ", Quote(task), " must match [A-Za-z0-9._-]{1,128}"));
    }
  }
  if (!v1::Runtime_IsValid(request.runtime())) {
    return Bad("runtime", absl::StrCat("unknown runtime ", request.runtime()));
  }
  if (!request.platform_file().empty()) {
    if (request.platform_file().size() > RequestLimits::kMaxPathBytes) {
      return Bad("platform_file", "longer than 4096 bytes");
    }
    if (absl::Status s = ValidateRelativePath(request.platform_file()); !s.ok()) {
      return Bad("platform_file", s.message());
    }
  }
  if (absl::Status s = ValidateKeyPathMap(request.overrides(), "overrides"); !s.ok()) return s;
  if (absl::Status s = ValidateKeyPathMap(request.platform_defaults(), "platform_defaults");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateEnv(request.env(), "env"); !s.ok()) return s;
  if (absl::Status s = ValidateEnv(request.caller_env(), "caller_env"); !s.ok()) return s;
  if (!request.caller_env_withheld().empty()) {
    return Bad("caller_env_withheld", "is set by the agent on the requests it stores");
  }
  if (absl::Status s = ValidateGpus(request.gpus()); !s.ok()) return s;
  if (request.client_request_id().size() > 128 || HasControlBytes(request.client_request_id())) {
    return Bad("client_request_id", "must be at most 128 printable characters");
  }
  if (!request.metrics_path().empty()) {
    if (request.metrics_path().size() > RequestLimits::kMaxPathBytes) {
      return Bad("metrics_path", "longer than 4096 bytes");
    }
    if (absl::Status s = ValidateRelativePath(request.metrics_path()); !s.ok()) {
      return Bad("metrics_path", s.message());
    }
  }
  if (!request.batch_id().empty() || request.batch_parallel() != 0) {
    return Bad("batch_id", "is set by the agent for the runs of SubmitJobs");
  }
  return absl::OkStatus();
}

absl::Status ValidateSubmitJobsRequest(const v1::SubmitJobsRequest& request) {
  if (request.runs().empty()) return Bad("runs", "a batch needs at least one run");
  if (request.runs_size() > RequestLimits::kMaxBatchRuns) {
    return Bad("runs", absl::StrCat("more than ", RequestLimits::kMaxBatchRuns, " in one batch"));
  }
  if (request.parallel() < 0) return Bad("parallel", "must not be negative");
  // Room for the "/INDEX" each run's key gets.
  if (request.client_request_id().size() > 120 || HasControlBytes(request.client_request_id())) {
    return Bad("client_request_id", "must be at most 120 printable characters");
  }
  for (int i = 0; i < request.runs_size(); ++i) {
    if (absl::Status s = ValidateSubmitJobRequest(request.runs(i)); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("runs[", i, "]: ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateListJobsRequest(const v1::ListJobsRequest& request) {
  return ValidateOptionalCubeId(request.cube_id());
}

absl::Status ValidateWatchJobRequest(const v1::WatchJobRequest& request) {
  if (!IsValidJobId(request.job_id())) {
    return absl::NotFoundError(absl::StrCat("no job ", Quote(request.job_id())));
  }
  if (request.from_offset() < 0) return Bad("from_offset", "must not be negative");
  return absl::OkStatus();
}

absl::Status ValidateFindMissingBlobsRequest(const v1::FindMissingBlobsRequest& request) {
  if (request.digests_size() > RequestLimits::kMaxDigests) {
    return Bad("digests", absl::StrCat("at most ", RequestLimits::kMaxDigests, " per request"));
  }
  for (const v1::Digest& d : request.digests()) {
    if (absl::Status s = ValidateDigestField(d, "digests"); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ValidateBatchUploadBlobsRequest(const v1::BatchUploadBlobsRequest& request) {
  int64_t total = 0;
  int64_t uncompressed = 0;
  for (const v1::BlobData& blob : request.blobs()) {
    if (absl::Status s = ValidateDigestField(blob.digest(), "blobs.digest"); !s.ok()) return s;
    total += static_cast<int64_t>(blob.data().size());
    if (blob.compressor() == v1::COMPRESSOR_ZSTD) {
      uncompressed +=
          std::min(blob.digest().size_bytes(), RequestLimits::kMaxBatchUncompressedBytes + 1);
    } else if (blob.compressor() != v1::COMPRESSOR_IDENTITY) {
      return Bad("blobs.compressor", "unknown compressor");
    }
  }
  if (total > RequestLimits::kMaxPayloadBytes) {
    return Bad("blobs", absl::StrCat("batch carries ", total, " bytes, limit ",
                                     RequestLimits::kMaxPayloadBytes));
  }
  if (uncompressed > RequestLimits::kMaxBatchUncompressedBytes) {
    return Bad("blobs", absl::StrCat("compressed blobs of more than ",
                                     RequestLimits::kMaxBatchUncompressedBytes,
                                     " bytes uncompressed in one batch"));
  }
  return absl::OkStatus();
}

absl::Status ValidateUploadChunk(const v1::UploadChunk& chunk, bool first) {
  if (first) {
    if (absl::Status s = ValidateDigestField(chunk.digest(), "digest"); !s.ok()) return s;
    if (chunk.offset() > chunk.digest().size_bytes()) {
      return Bad("offset", "past the end of the blob");
    }
  }
  if (chunk.offset() < 0) return Bad("offset", "must not be negative");
  if (chunk.compressor() != v1::COMPRESSOR_IDENTITY && chunk.compressor() != v1::COMPRESSOR_ZSTD) {
    return Bad("compressor", "unknown compressor");
  }
  if (static_cast<int64_t>(chunk.data().size()) > RequestLimits::kMaxPayloadBytes) {
    return Bad("data", absl::StrCat("chunk of ", chunk.data().size(), " bytes, limit ",
                                    RequestLimits::kMaxPayloadBytes));
  }
  return absl::OkStatus();
}

absl::Status ValidateBatchReadBlobsRequest(const v1::BatchReadBlobsRequest& request) {
  int64_t total = 0;
  for (const v1::Digest& d : request.digests()) {
    if (absl::Status s = ValidateDigestField(d, "digests"); !s.ok()) return s;
    total += d.size_bytes();
    if (total > RequestLimits::kMaxPayloadBytes) {
      return Bad("digests", absl::StrCat("batch read of more than ",
                                         RequestLimits::kMaxPayloadBytes, " bytes"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateReadBlobRequest(const v1::ReadBlobRequest& request) {
  if (absl::Status s = ValidateDigestField(request.digest(), "digest"); !s.ok()) return s;
  if (request.offset() < 0 || request.offset() > request.digest().size_bytes()) {
    return absl::OutOfRangeError("offset: outside the blob");
  }
  if (request.limit() < 0) return absl::OutOfRangeError("limit: must not be negative");
  // offset + limit is computed by the reader: it must not overflow.
  if (request.limit() > std::numeric_limits<int64_t>::max() - request.offset()) {
    return absl::OutOfRangeError("limit: offset + limit overflows");
  }
  return absl::OkStatus();
}

absl::Status ValidateCommitManifestRequest(const v1::CommitManifestRequest& request) {
  if (absl::Status s = ValidateCubeId(request.cube_id()); !s.ok()) return s;
  if (absl::Status s = ValidateDigestField(request.manifest_digest(), "manifest_digest"); !s.ok()) {
    return s;
  }
  // Checked by the size the digest names, before anything is read.
  if (request.manifest_digest().size_bytes() > ManifestValidator::kMaxManifestBytes) {
    return Bad(
        "manifest_digest",
        absl::StrCat("a manifest of ", request.manifest_digest().size_bytes(),
                     " bytes; the limit is ", ManifestValidator::kMaxManifestBytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status ValidateSnapshotRequest(const v1::SnapshotRequest& request) {
  if (absl::Status s = ValidateCubeId(request.cube_id()); !s.ok()) return s;
  if (request.paths_size() > RequestLimits::kMaxSnapshotPaths) {
    return Bad("paths", absl::StrCat("more than ", RequestLimits::kMaxSnapshotPaths, " paths"));
  }
  for (const std::string& path : request.paths()) {
    if (path.size() > RequestLimits::kMaxPathBytes) {
      return Bad("paths", absl::StrCat(Quote(path), " is longer than 4096 bytes"));
    }
    if (absl::Status s = ValidateRelativePath(path); !s.ok()) return Bad("paths", s.message());
  }
  if (!request.job_id().empty() && !IsValidJobId(request.job_id())) {
    return absl::NotFoundError(absl::StrCat("no job ", Quote(request.job_id())));
  }
  return absl::OkStatus();
}

absl::Status ValidateDeleteCubeRequest(const v1::DeleteCubeRequest& request) {
  return ValidateCubeId(request.cube_id());
}

}  // namespace mlcube
