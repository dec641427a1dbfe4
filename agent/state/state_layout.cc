#include "agent/state/state_layout.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace mlcube {

StateLayout::StateLayout(std::string state_dir, std::string image_dir)
    : root_(std::move(state_dir)), images_(std::move(image_dir)) {}

std::string StateLayout::BlobsDir() const { return absl::StrCat(root_, "/blobs"); }
std::string StateLayout::UploadsDir() const { return absl::StrCat(root_, "/uploads"); }
std::string StateLayout::GrantsDir() const { return absl::StrCat(root_, "/grants"); }

std::string StateLayout::TaskUsersFile() const { return absl::StrCat(root_, "/task_users.list"); }

std::string StateLayout::CubesDir() const { return absl::StrCat(root_, "/cubes"); }
std::string StateLayout::OwnerCubesDir(const std::string& owner) const {
  return absl::StrCat(CubesDir(), "/", owner);
}
std::string StateLayout::CubeDir(const std::string& owner, const std::string& cube_id) const {
  return absl::StrCat(OwnerCubesDir(owner), "/", cube_id);
}
std::string StateLayout::DeletingCubeDir(const std::string& owner, const std::string& cube_id,
                                         int64_t stamp) const {
  return absl::StrCat(OwnerCubesDir(owner), "/", kDeletingPrefix, cube_id, "-", stamp);
}

std::string StateLayout::CommitsDir() const { return absl::StrCat(root_, "/commits"); }
std::string StateLayout::OwnerCommitsDir(const std::string& owner) const {
  return absl::StrCat(CommitsDir(), "/", owner);
}
std::string StateLayout::CommitFile(const std::string& owner, const std::string& cube_id) const {
  return absl::StrCat(OwnerCommitsDir(owner), "/", cube_id, kCommitSuffix);
}

std::string StateLayout::JobsDir() const { return absl::StrCat(root_, "/jobs"); }
std::string StateLayout::JobDir(const std::string& job_id) const {
  return absl::StrCat(JobsDir(), "/", job_id);
}
std::string StateLayout::JobRecordFile(const std::string& job_id) const {
  return absl::StrCat(JobDir(job_id), "/job.pb");
}
std::string StateLayout::JobRequestFile(const std::string& job_id) const {
  return absl::StrCat(JobDir(job_id), "/request.pb");
}
std::string StateLayout::JobLogFile(const std::string& job_id) const {
  return absl::StrCat(JobDir(job_id), "/log");
}
std::string StateLayout::JobPlanFile(const std::string& job_id) const {
  return absl::StrCat(JobDir(job_id), "/plan");
}
std::string StateLayout::JobCancelFile(const std::string& job_id) const {
  return absl::StrCat(JobDir(job_id), "/cancel");
}
std::string StateLayout::JobStepPrefix(const std::string& job_id, int step) const {
  return absl::StrCat(JobDir(job_id), "/", kStepPrefix, step);
}
std::string StateLayout::JobScratchDir(const std::string& job_id) const {
  return absl::StrCat(JobDir(job_id), "/tmp");
}

std::string StateLayout::JobScratchStorageDir(const std::string& job_id) const {
  return JobDir(job_id) + "/scratch_storage";
}
std::string StateLayout::BatchArrayPrefix(const std::string& batch_id) const {
  return JobDir(batch_id) + "/array";
}

std::string StateLayout::ImagesDir() const { return images_; }
std::string StateLayout::OwnerImagesDir(const std::string& owner) const {
  return absl::StrCat(images_, "/", owner);
}

}  // namespace mlcube
