#include "agent/jobs/job_store.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/directory_tree.h"
#include "common/file_util.h"

namespace mlcube {

absl::StatusOr<std::string> JobStore::CreateJobDir() {
  std::random_device random;
  for (int attempt = 0; attempt < 100; ++attempt) {
    const std::string id = absl::StrFormat("%08x", static_cast<uint32_t>(random()));
    if (mkdir(JobDir(id).c_str(), 0750) == 0) return id;
    if (errno != EEXIST) {
      return absl::ResourceExhaustedError(absl::StrCat("cannot create job directory under ",
                                                       layout_->JobsDir(), ": ", strerror(errno)));
    }
  }
  return absl::InternalError("no free job id");
}

absl::Status JobStore::Save(const mlcube_remote::v1::Job& job) {
  return WriteFileAtomically(layout_->JobRecordFile(job.id()), job.SerializeAsString());
}

absl::Status JobStore::SaveRequest(const std::string& id,
                                   const mlcube_remote::v1::SubmitJobRequest& request) {
  return WriteFileAtomically(layout_->JobRequestFile(id), request.SerializeAsString());
}

int64_t JobStore::DiskBytes(const std::string& id) const {
  const std::string dir_path = JobDir(id);
  DIR* dir = opendir(dir_path.c_str());
  if (!dir) return 0;
  int64_t total = 0;
  while (dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = absl::StrCat(dir_path, "/", name);
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      absl::StatusOr<int64_t> tree = TreeBytes(path);
      total += tree.ok() ? *tree : 0;
    } else {
      total += static_cast<int64_t>(st.st_blocks) * 512;
    }
  }
  closedir(dir);
  return total;
}

std::vector<StoredJob> JobStore::LoadAll() const {
  std::vector<StoredJob> jobs;
  DIR* dir = opendir(layout_->JobsDir().c_str());
  if (!dir) return jobs;
  while (dirent* entry = readdir(dir)) {
    const std::string id = entry->d_name;
    if (!IsValidJobId(id)) continue;
    auto job_bytes = ReadSmallFile(layout_->JobRecordFile(id));
    auto request_bytes = ReadSmallFile(layout_->JobRequestFile(id));
    if (!job_bytes.ok() || !request_bytes.ok()) continue;
    StoredJob stored;
    if (!stored.job.ParseFromString(*job_bytes) ||
        !stored.request.ParseFromString(*request_bytes) || stored.job.id() != id) {
      continue;
    }
    jobs.push_back(std::move(stored));
  }
  closedir(dir);
  return jobs;
}

}  // namespace mlcube
