#ifndef MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_ARRAY_SCRIPT_H_
#define MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_ARRAY_SCRIPT_H_

// The batch script of a Slurm job array whose elements are the steps of
// different jobs, and the sbatch command line that submits it. Element I
// (SLURM_ARRAY_TASK_ID) runs the step script of its own job (PREFIX.sh, the
// script SlurmBatchScript renders for a single step) with that step's own
// environment, output and error files, so each run keeps its own files,
// exit record and log exactly as if it had been submitted alone. Every word
// is single-quoted: nothing from a cube is interpreted by the shell.

#include <map>
#include <string>
#include <vector>

namespace mlcube {

struct SlurmArrayElement {
  int index = 0;            // SLURM_ARRAY_TASK_ID
  std::string step_prefix;  // the step's files (SlurmStepFiles)
  bool has_env = false;     // PREFIX.env holds the step's `export` lines
};

class SlurmArrayScript {
 public:
  // The dispatching script; an index without an element exits 64.
  static std::string Render(const std::vector<SlurmArrayElement>& elements);

  // Slurm's --array value: sorted indices as ranges ("0-19", "0,2-5"), then
  // "%parallel" when parallel > 0. Duplicates count once.
  static std::string ArraySpec(std::vector<int> indices, int parallel);

  // sbatch --parsable --array=SPEC with the agent's options; Slurm's own
  // messages of element N go to PREFIX-N.out (the step's output goes to the
  // step's files). `script` is the array script's path.
  static std::vector<std::string> SbatchArgv(const std::string& sbatch, const std::string& job_name,
                                             const std::string& array_spec,
                                             const std::vector<std::string>& resource_options,
                                             const std::string& prefix);

  // `export 'KEY=VALUE'` lines for PREFIX.env (sourced by the element).
  static std::string EnvFile(const std::map<std::string, std::string>& env);

  // "PREFIX.env": the step's environment file (StateLayout::kEnvSuffix, so
  // it is removed with the job's other env files when the job ends).
  static std::string EnvPath(const std::string& step_prefix) { return step_prefix + ".env"; }
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SCHEDULERS_SLURM_ARRAY_SCRIPT_H_
