#ifndef MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_BATCH_SCRIPT_H_
#define MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_BATCH_SCRIPT_H_

// The batch script a Slurm step runs, and the sbatch command line that
// submits it. The script wraps the runtime's command (`apptainer run ...`)
// unchanged: it enters the step's working directory, runs the command with
// stdin from /dev/null and records how it ended in PREFIX.exit (the format
// TaskSupervisor::ReadExit reads), so the agent has the task's own exit code
// even when Slurm's accounting is off. Every word is single-quoted: nothing
// from a cube is ever interpreted by the shell.
//
// Files of a step (all on the filesystem the compute nodes share):
//   PREFIX.sh     the script        PREFIX.out / PREFIX.err  its stdout / stderr
//   PREFIX.exit   "exit N"          (written by the script when the command ends)
// Output is opened in append mode, so a requeued job adds to it and the
// agent's offsets into it stay valid.
//
// A step of several ranks (SlurmRanks::ThroughSrun) runs one more file, PREFIX.rank.sh,
// once per rank with `srun --kill-on-bad-exit=1`: it gives the container the
// variables launchers read (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE,
// NODE_RANK, MASTER_ADDR, MASTER_PORT and every SLURM_*, PMI_* and PMIX_*
// with `mpi`; PMI_FD stays open), prefixes each line
// the rank prints with "[rank N] " on the stream it was printed on, and
// records the rank's exit code in PREFIX.rank-N.exit. The batch script
// picks MASTER_ADDR (the allocation's first node) and MASTER_PORT (from the
// Slurm job id, the first not listening there), and when a rank failed,
// records that rank's code as the step's; srun stops the other ranks.

#include <string>
#include <vector>

namespace mlcube {

struct SlurmStepFiles {
  explicit SlurmStepFiles(const std::string& step_prefix)
      : script(step_prefix + ".sh"),
        out(step_prefix + ".out"),
        err(step_prefix + ".err"),
        exit(step_prefix + ".exit"),
        record(step_prefix + ".slurm"),
        rank_script(step_prefix + ".rank.sh"),
        rank_exit_prefix(step_prefix + ".rank-") {}
  std::string script;
  std::string out;
  std::string err;
  std::string exit;
  std::string record;            // the Slurm job id and where the step's log starts
  std::string rank_script;       // several ranks only
  std::string rank_exit_prefix;  // + "N.exit": how rank N ended
};

// The ranks of a step: Slurm's allocation of nodes * tasks_per_node.
struct SlurmRanks {
  int count = 1;
  int tasks_per_node = 1;
  std::string mpi;            // srun --mpi=MPI ("" none asked)
  std::string srun = "srun";  // as the compute nodes find it
  // Several ranks, or one asked to have an MPI/PMI: started through srun.
  bool ThroughSrun() const { return count > 1 || !mpi.empty(); }
};

// What the script sets up around an Apptainer command, through Apptainer's
// own environment variables (the runtime's command line stays as it is).
struct SlurmConveniences {
  // Created if missing and bound at /scratch_storage (APPTAINER_BIND); kept.
  std::string scratch_dir;
  // /tmp, /var/tmp and $HOME of a --contain'ed container in a directory on
  // the node's own storage (APPTAINER_WORKDIR), removed when the job ends.
  bool node_tmp = false;
  // Copied into a node-local directory before the command (the copy timed
  // in the log) and bound read-only: (host path, container path).
  std::vector<std::pair<std::string, std::string>> stage;
};

class SlurmBatchScript {
 public:
  // `argv`: the runtime's command; `cwd`: where it runs ("" = the job dir).
  static std::string Render(const std::vector<std::string>& argv, const std::string& cwd,
                            const SlurmStepFiles& files, const SlurmConveniences& conveniences = {},
                            const SlurmRanks& ranks = {});

  // PREFIX.rank.sh of a step of several ranks. `$1` says what srun runs it
  // for: "run" (the rank), "stage" and "clean" (once per node: copy the
  // staged data to the node's own storage, and remove it).
  static std::string RenderRankScript(const std::vector<std::string>& argv,
                                      const SlurmStepFiles& files,
                                      const SlurmConveniences& conveniences,
                                      const SlurmRanks& ranks);

  // sbatch --parsable with the agent's own options (job name, output files,
  // append mode), then `resource_options` (SbatchResourceOptions), then the
  // script. `job_name` names the Slurm job so it can be found again.
  static std::vector<std::string> SbatchArgv(const std::string& sbatch, const std::string& job_name,
                                             const std::vector<std::string>& resource_options,
                                             const SlurmStepFiles& files);

  // 'word' with every ' written as '\'' : safe for any byte but NUL.
  static std::string ShellQuote(const std::string& word);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_BATCH_SCRIPT_H_
