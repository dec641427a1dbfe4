#include "agent/workspaces/cube_committer.h"

#include <unistd.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/access/tree_acl.h"
#include "agent/log/log.h"
#include "common/manifest_validator.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

absl::StatusOr<v1::Manifest> CubeCommitter::ReadRequestedManifest(
    const std::string& owner, const v1::CommitManifestRequest& request) const {
  // Only a manifest the caller uploaded (or snapshotted) itself.
  absl::StatusOr<std::string> bytes = parts_.access->ReadSmall(owner, request.manifest_digest());
  if (!bytes.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "manifest blob ", DigestKey(request.manifest_digest()), " is not in the content store"));
  }
  v1::Manifest parsed;
  if (!parsed.ParseFromString(*bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "manifest blob ", DigestKey(request.manifest_digest()), " does not parse as a Manifest"));
  }
  if (absl::Status s = ManifestValidator::Validate(parsed); !s.ok()) return s;
  return parsed;
}

absl::Status CubeCommitter::Prepare(const std::string& owner, const std::string& cube_id,
                                    const v1::Manifest& next) const {
  int64_t cube_bytes = 0;
  for (const v1::ManifestEntry& e : next.entries()) {
    if (e.type() == v1::ENTRY_TYPE_FILE) cube_bytes += e.digest().size_bytes();
  }
  if (absl::Status room = parts_.quota->CheckCommit(owner, cube_id, cube_bytes); !room.ok()) {
    return room;
  }
  // Big files sent as chunks become whole blobs before anything changes.
  return parts_.splicer->SpliceMissing(owner, next);
}

absl::StatusOr<WorkspaceMaterializer::PreviousOnDisk> CubeCommitter::PreviousOnDisk(
    const std::string& owner, const std::string& cube_id, const v1::Manifest* previous,
    bool dry_run) const {
  using OnDisk = WorkspaceMaterializer::PreviousOnDisk;
  const std::optional<v1::CubeSummary> record = parts_.records->Read(owner, cube_id);
  const bool as_committed = previous != nullptr && record.has_value() && !record->workspace_used();
  if (dry_run) return as_committed ? OnDisk::kAsCommitted : OnDisk::kCheck;
  // Until this commit's record is written, the tree is not what the record
  // says: marked as used, so that after a crash or a failure half-way the
  // next commit looks at every entry again (and the client commits again).
  if (record.has_value()) {
    if (absl::Status s = parts_.records->MarkWorkspaceUsed(owner, cube_id); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("recording the commit's start: ", s.message()));
    }
  }
  return as_committed ? OnDisk::kAsCommitted : OnDisk::kCheck;
}

absl::StatusOr<WorkspaceMaterializer::Result> CubeCommitter::Commit(
    const std::string& owner, const v1::CommitManifestRequest& request) {
  const absl::Time start = absl::Now();
  absl::StatusOr<v1::Manifest> next = ReadRequestedManifest(owner, request);
  if (!next.ok()) return next.status();
  const absl::Time read = absl::Now();
  const std::string& cube_id = request.cube_id();
  if (!request.dry_run()) {
    if (absl::Status s = Prepare(owner, cube_id, *next); !s.ok()) return s;
  }
  const absl::Time spliced = absl::Now();
  absl::MutexLock cube_lock(parts_.locks->For(owner, cube_id));
  // The previous commit, when its manifest is still readable.
  std::unique_ptr<v1::Manifest> previous = parts_.manifests->Of(owner, cube_id);
  absl::StatusOr<WorkspaceMaterializer::PreviousOnDisk> on_disk =
      PreviousOnDisk(owner, cube_id, previous.get(), request.dry_run());
  if (!on_disk.ok()) return on_disk.status();
  if (!request.dry_run()) {
    const uid_t agent = geteuid();
    if (absl::Status s =
            TreeAcl(agent, agent).ApplyToDirectory(parts_.layout->OwnerCubesDir(owner));
        !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<WorkspaceMaterializer::Result> result = materializer_.Apply(
      parts_.layout->CubeDir(owner, cube_id), previous.get(), *next, request.prune(),
      request.dry_run(), [&](const v1Digest& d) { return parts_.access->Visible(owner, d); },
      *on_disk);
  parts_.quota->Invalidate(owner);
  if (!result.ok() || request.dry_run()) return result;

  // A job still running in the cube may write over what was just placed:
  // the next commit looks at the disk again.
  const bool jobs_unfinished = parts_.jobs_unfinished && parts_.jobs_unfinished(owner, cube_id);
  if (absl::Status s =
          parts_.records->Write(owner, cube_id, request.manifest_digest(), jobs_unfinished);
      !s.ok()) {
    return s;
  }
  parts_.store->Touch(request.manifest_digest());
  Log(
      absl::StrFormat("commit %s/%s: %d written (%d bytes), %d unchanged, %d removed; "
                      "manifest %.3fs splice %.3fs stage %.3fs sync %.3fs place %.3fs",
                      owner, cube_id, result->files_written, result->bytes_written,
                      result->files_unchanged, result->files_removed,
                      absl::ToDoubleSeconds(read - start), absl::ToDoubleSeconds(spliced - read),
                      result->stage_seconds, result->sync_seconds, result->place_seconds));
  parts_.splicer->RecordChunkLocations(owner, *next);
  return result;
}

}  // namespace mlcube
