#ifndef MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_CLIENT_H_
#define MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_CLIENT_H_

// Talks to Slurm through its own commands (sbatch, squeue, scancel), as the
// agent's user, with argv built without a shell. The binaries are looked up
// in PATH once; a host without them gives FAILED_PRECONDITION naming the
// missing command.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mlcube {

// One job as squeue reports it.
struct SlurmJobInfo {
  std::string id;      // "12", or "12_3" for element 3 of job array 12
  std::string state;   // PENDING, RUNNING, COMPLETED, TIMEOUT, ...
  std::string reason;  // Priority, Resources, None, ...
  int exit_code = 0;
  std::string nodes;
};

class SlurmClient {
 public:
  // `bin_dir`: where sbatch and friends are; "" = PATH.
  explicit SlurmClient(std::string bin_dir = "");

  // OK when sbatch, squeue and scancel can be found.
  absl::Status CheckInstalled() const;

  // Runs `argv` (SlurmBatchScript::SbatchArgv) with `env` added to the
  // environment (sbatch --export=ALL hands it to the job), returns the job id.
  // Slurm's refusal ("invalid partition specified: x") is FAILED_PRECONDITION
  // carrying sbatch's own message.
  absl::StatusOr<std::string> Submit(const std::vector<std::string>& argv,
                                     const std::map<std::string, std::string>& env,
                                     const std::string& cwd) const;

  // One squeue call for all `ids` (finished jobs included while Slurm still
  // remembers them). Ids Slurm no longer knows are absent from the result.
  absl::StatusOr<std::map<std::string, SlurmJobInfo>> Query(
      const std::vector<std::string>& ids) const;

  // The ids of this user's jobs named `job_name` (finds a job the agent
  // submitted but did not get to record).
  absl::StatusOr<std::vector<std::string>> FindByName(const std::string& job_name) const;

  absl::Status Cancel(const std::string& id) const;

  std::string Binary(const std::string& name) const;

  // Parsers, public for tests.
  static absl::StatusOr<std::string> ParseSbatchOutput(const std::string& output);
  // Array elements come as "12_3"; a line for elements Slurm has not split
  // off yet ("12_[4-9%2]", "12_[4,6-7]") stands for each of them.
  static std::map<std::string, SlurmJobInfo> ParseSqueueOutput(const std::string& output);

  // "12" or "12_3" (a job or an element of a job array).
  static bool IsJobId(absl::string_view id);

 private:
  std::string bin_dir_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_CLIENT_H_
