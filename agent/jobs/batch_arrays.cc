#include "agent/jobs/batch_arrays.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace mlcube {

bool IsArrayRun(const mlcube_remote::v1::SubmitJobRequest& request) {
  return !request.batch_id().empty() && request.scheduler() == "slurm" &&
         request.action() == mlcube_remote::v1::JOB_ACTION_RUN && request.tasks_size() == 1;
}

std::shared_ptr<SlurmArrayBatch> BatchArrays::Of(
    const std::string& batch_id, int batch_parallel,
    const std::function<std::set<int>()>& unfinished_runs) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<SlurmArrayBatch>& array = arrays_[batch_id];
  if (array) return array;
  int parallel = batch_parallel;
  const int limit = running_per_identity_;
  if (limit > 0) parallel = parallel > 0 ? std::min(parallel, limit) : limit;
  const std::string prefix = layout_->BatchArrayPrefix(batch_id);
  SlurmScheduler* slurm = slurm_;
  array = std::make_shared<SlurmArrayBatch>(
      prefix + ".slurm", unfinished_runs(),
      [slurm, prefix, parallel, batch_id](const std::vector<SlurmStep>& steps,
                                          const std::vector<int>& indices) {
        return slurm->SubmitArray(steps, indices, parallel, prefix,
                                  absl::StrCat("mlcube-array-", batch_id));
      });
  return array;
}

void BatchArrays::Withdraw(const std::string& batch_id, int index) {
  std::shared_ptr<SlurmArrayBatch> array;
  {
    absl::MutexLock lock(&mu_);
    auto it = arrays_.find(batch_id);
    if (it == arrays_.end()) return;
    array = it->second;
  }
  array->Withdraw(index);
}

void BatchArrays::Forget(const std::string& batch_id) {
  absl::MutexLock lock(&mu_);
  arrays_.erase(batch_id);
}

}  // namespace mlcube
