#ifndef MLCUBE_REMOTE_COMMON_SLURM_SETTINGS_H_
#define MLCUBE_REMOTE_COMMON_SLURM_SETTINGS_H_

// How a task asks Slurm for resources: the `slurm:` section of a host in the
// hosts file, overridden per run with `-P slurm.KEY=VALUE`, sent to the agent
// as a flat KEY -> VALUE map (SubmitJobRequest.slurm). Both sides parse it
// with ParseSlurmSettings: the controller to refuse a typo before anything
// is sent, the agent because every request is hostile input.
//
// Keys: partition, account, qos, time, cpus_per_task, mem, constraint, gres,
// gpu_flag (gres | gpus: how a GPU count is asked for), extra_args (more
// sbatch options, some refused), configure (login | job: where an image
// build runs), scratch and node_tmp (true | false); for a task of several
// ranks: nodes, ntasks_per_node, gpus_per_node, distribution, mpi.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mlcube {

struct SlurmSettings {
  std::string partition;
  std::string account;
  std::string qos;
  std::string time;       // Slurm's formats: MM, MM:SS, HH:MM:SS, D-HH[:MM[:SS]]
  int cpus_per_task = 0;  // 0: Slurm's default
  std::string mem;        // 4000, 32G, ...
  std::string constraint;
  std::string gres;               // extra generic resources, e.g. "nvme:1"
  std::string gpu_flag = "gres";  // "gres": --gres=gpu:N, "gpus": --gpus=N
  std::vector<std::string> extra_args;
  bool configure_as_job = false;
  // Conveniences inside the job: a per-job scratch directory on the shared
  // filesystem bound at /scratch_storage and kept after the job; /tmp,
  // /var/tmp and $HOME of the container on node-local storage
  // ($SLURM_TMPDIR, else $TMPDIR, else /tmp), removed when the job ends.
  bool scratch = true;
  bool node_tmp = true;
  // Ranks: more than one (nodes * ntasks_per_node > 1) makes the step start
  // the container once per rank with srun. 0: not given (one node, one task).
  int nodes = 0;
  int ntasks_per_node = 0;
  int gpus_per_node = 0;     // --nv in every rank; Slurm binds the devices
  std::string distribution;  // srun/sbatch --distribution, e.g. block:cyclic
  std::string mpi;           // srun --mpi of the ranks: pmi2, pmix, ... (Slurm's plugin names)

  int Ranks() const {
    return (nodes > 0 ? nodes : 1) * (ntasks_per_node > 0 ? ntasks_per_node : 1);
  }
  int TasksPerNode() const { return ntasks_per_node > 0 ? ntasks_per_node : 1; }
};

// The keys ParseSlurmSettings knows, in the order they are documented.
const std::vector<std::string>& SlurmSettingKeys();

// Parses KEY -> VALUE (keys without the "slurm." prefix). An unknown key or
// a bad value is INVALID_ARGUMENT naming `where`.KEY (e.g. "slurm.tme:
// unknown key (expected partition, ...)"). Values never reach a shell, but
// are still held to what Slurm accepts, so a newline or an option smuggled
// into a value is refused here rather than by sbatch.
absl::StatusOr<SlurmSettings> ParseSlurmSettings(const std::map<std::string, std::string>& values,
                                                 const std::string& where = "slurm");

// `run --stage=PATH[:DEST]`: a host path copied to node-local storage before
// the task starts and bound read-only at DEST (default /data).
struct StageSpec {
  std::string path;  // absolute, on the agent's host (the shared filesystem)
  std::string dest = "/data";
};

// Parses and checks one --stage value (INVALID_ARGUMENT naming it): PATH
// absolute without ':'; DEST an absolute container path of plain
// characters, not a system directory nor one the agent binds itself
// (/mlcube_io*, /scratch_storage).
absl::StatusOr<StageSpec> ParseStageSpec(const std::string& value);

// sbatch options for the settings, and for `gpus` ("" none, a count, "all";
// "all" and device lists cannot be expressed to Slurm and are refused).
// gpus_per_node and a different `gpus` are refused as asking twice.
absl::StatusOr<std::vector<std::string>> SbatchResourceOptions(const SlurmSettings& settings,
                                                               const std::string& gpus);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_SLURM_SETTINGS_H_
