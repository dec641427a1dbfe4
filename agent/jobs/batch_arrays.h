#ifndef MLCUBE_REMOTE_AGENT_JOBS_BATCH_ARRAYS_H_
#define MLCUBE_REMOTE_AGENT_JOBS_BATCH_ARRAYS_H_

// The Slurm job arrays of the agent's batches (SubmitJobs on a Slurm host):
// a batch's single-task runs become one array (SlurmArrayBatch), made when
// the first of them reaches its task from the runs still unfinished then,
// submitted with the batch's cap as the array's %P. Thread-safe.

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agent/schedulers/slurm_array_batch.h"
#include "agent/schedulers/slurm_scheduler.h"
#include "agent/state/state_layout.h"
#include "mlcube_remote/v1/jobs.pb.h"

namespace mlcube {

// Whether `request`, a run of a batch, has its task step run as an element
// of the batch's job array: a single-task run on Slurm.
bool IsArrayRun(const mlcube_remote::v1::SubmitJobRequest& request);

class BatchArrays {
 public:
  // `slurm` and `layout` (not owned) outlive this. `running_per_identity`
  // (limits.running_jobs; 0: none) caps an identity's array elements as it
  // caps its other jobs.
  BatchArrays(SlurmScheduler* slurm, const StateLayout* layout, int running_per_identity)
      : slurm_(slurm), layout_(layout), running_per_identity_(running_per_identity) {}

  // The array of `batch_id`. Made on the first call: its members are what
  // `unfinished_runs` returns then (the batch indices of its array runs not
  // yet ended), at most `batch_parallel` running at once (0: the batch sets
  // no cap of its own). Later calls return the same array.
  std::shared_ptr<SlurmArrayBatch> Of(const std::string& batch_id, int batch_parallel,
                                      const std::function<std::set<int>()>& unfinished_runs);
  // Run `index` of `batch_id` ended before its task: the array no longer
  // waits for it. Nothing when the batch has no array (yet) or the run
  // joined it.
  void Withdraw(const std::string& batch_id, int index);
  // Every run of `batch_id` has ended: its array is no longer kept (a later
  // Of would make a new one).
  void Forget(const std::string& batch_id);

 private:
  SlurmScheduler* slurm_;
  const StateLayout* layout_;
  const int running_per_identity_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<SlurmArrayBatch>> arrays_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_JOBS_BATCH_ARRAYS_H_
