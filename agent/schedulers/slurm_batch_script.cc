#include "agent/schedulers/slurm_batch_script.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace mlcube {

std::string SlurmBatchScript::ShellQuote(const std::string& word) {
  return absl::StrCat("'", absl::StrReplaceAll(word, {{"'", "'\\''"}}), "'");
}

namespace {

// Adds `host`:`rest` (both already quoted for the shell) to Apptainer's bind
// lists.
void AppendBind(std::string* lines, const std::string& host, const std::string& rest) {
  for (const char* var : {"APPTAINER_BIND", "SINGULARITY_BIND"}) {
    absl::StrAppend(lines, "export ", var, "=\"${", var, ":+$", var, ",}\"", host, rest, "\n");
  }
}

std::string ScratchLines(const SlurmConveniences& c) {
  std::string lines;
  if (c.scratch_dir.empty()) return lines;
  const std::string dir = SlurmBatchScript::ShellQuote(c.scratch_dir);
  absl::StrAppend(&lines, "mkdir -p ", dir, " && echo \"mlcube-agent: /scratch_storage is ",
                  "$(hostname):\"", dir, " >&2\n");
  AppendBind(&lines, dir, "':/scratch_storage'");
  return lines;
}

// Refuses a node directory holding a separator of Apptainer's bind list.
std::string BindableCheck(const std::string& var) {
  return absl::StrCat("case \"$", var, "\" in *[,:^\\\"]*|*[[:cntrl:]]*) ",
                      "echo \"mlcube-agent: cannot bind staged data from $", var,
                      " on $(hostname)\" >&2; record 75; exit 75;; esac\n");
}

// Copies stage[i] into DIR/stageI (the copy timed in the log).
std::string StageCopyLines(const SlurmConveniences& c, const std::string& dir_var) {
  std::string lines;
  for (size_t i = 0; i < c.stage.size(); ++i) {
    const std::string from = SlurmBatchScript::ShellQuote(c.stage[i].first);
    const std::string to = absl::StrCat("\"$", dir_var, "/stage", i, "\"");
    absl::StrAppend(&lines, "start=$(date +%s.%N)\n", "cp -a ", from, " ", to,
                    " || { echo \"mlcube-agent: staging \"", from,
                    "\" to $(hostname) failed\" >&2; record 75; exit 75; }\n",
                    "echo \"mlcube-agent: staged \"", from, "\" to $(hostname):\"", to,
                    "\" in $(awk \"BEGIN {printf \\\"%.2f\\\", $(date +%s.%N) - $start}\")s "
                    "($(du -sh ",
                    to, " | cut -f1))\" >&2\n");
  }
  return lines;
}

// Binds DIR/stageI read-only at each stage destination.
std::string StageBindLines(const SlurmConveniences& c, const std::string& dir_var) {
  std::string lines;
  for (size_t i = 0; i < c.stage.size(); ++i) {
    AppendBind(&lines, absl::StrCat("\"$", dir_var, "/stage", i, "\""),
               absl::StrCat("':", c.stage[i].second, ":ro'"));
  }
  return lines;
}

// A node directory removed when the script ends, its work/ as the
// container's /tmp, /var/tmp and $HOME.
std::string NodeDirLines(const SlurmConveniences& c, const std::string& dir_var) {
  std::string lines =
      absl::StrCat(dir_var, "=$(mktemp -d \"${SLURM_TMPDIR:-${TMPDIR:-/tmp}}/mlcube-job.XXXXXX\") ",
                   "&& trap 'rm -rf \"$", dir_var, "\"' EXIT || { record 75; exit 75; }\n");
  if (c.node_tmp) {
    absl::StrAppend(&lines, "mkdir \"$", dir_var, "/work\" && export APPTAINER_WORKDIR=\"$",
                    dir_var, "/work\" SINGULARITY_WORKDIR=\"$", dir_var, "/work\"\n");
  }
  return lines;
}

std::string ConvenienceLines(const SlurmConveniences& c) {
  std::string lines = ScratchLines(c);
  if (!c.node_tmp && c.stage.empty()) return lines;
  absl::StrAppend(&lines, NodeDirLines(c, "node_dir"));
  if (!c.stage.empty()) absl::StrAppend(&lines, BindableCheck("node_dir"));
  absl::StrAppend(&lines, StageCopyLines(c, "node_dir"), StageBindLines(c, "node_dir"));
  return lines;
}

// scancel and time limits send SIGTERM before SIGKILL: the shell then
// exits through its EXIT trap, which removes the node-local directories
// (without it, every cancelled job left one behind).
constexpr char kTermTrap[] = "trap 'exit 143' TERM INT HUP\n";

std::string Header(const SlurmStepFiles& files) {
  const std::string exit_file = SlurmBatchScript::ShellQuote(files.exit);
  const std::string exit_tmp = SlurmBatchScript::ShellQuote(files.exit + ".tmp");
  std::string script = "#!/bin/sh\n# Written by mlcube-agent; runs one step of a job.\n";
  absl::StrAppend(&script, "rm -f ", exit_file, "\n");
  absl::StrAppend(&script, "record() { echo \"exit $1\" > ", exit_tmp, " && mv -f ", exit_tmp, " ",
                  exit_file, "; }\n", kTermTrap);
  return script;
}

std::string EnterLines(const std::string& cwd) {
  if (cwd.empty()) return "";
  return absl::StrCat("cd ", SlurmBatchScript::ShellQuote(cwd),
                      " || { echo \"mlcube-agent: cannot enter the working directory on "
                      "$(hostname)\" >&2; record 126; exit 126; }\n");
}

// The per-node staging directory, on each node's own storage: made by
// `stage` with mkdir (never an existing one) and found by the ranks on that
// node. Named by job and node, as two nodes may share one /tmp.
constexpr char kStageDirLine[] =
    "stage_dir=\"${SLURM_TMPDIR:-${TMPDIR:-/tmp}}/mlcube-stage.$SLURM_JOB_ID.$SLURMD_NODENAME\"\n";

// Batch-script lines of a step of several ranks: the rendezvous, the staging
// on every node, srun of the ranks, and the failing rank's code as the step's.
std::string RankedBody(const SlurmStepFiles& files, const SlurmConveniences& c,
                       const SlurmRanks& ranks) {
  const std::string srun = SlurmBatchScript::ShellQuote(ranks.srun);
  const std::string rank_script = SlurmBatchScript::ShellQuote(files.rank_script);
  const std::string per_node =
      absl::StrCat(srun, " --nodes=\"$SLURM_JOB_NUM_NODES\" --ntasks=\"$SLURM_JOB_NUM_NODES\" ",
                   "--ntasks-per-node=1 --kill-on-bad-exit=1 /bin/sh ", rank_script);
  std::string lines = absl::StrCat(
      "MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" 2>/dev/null | head -n 1)\n",
      "[ -n \"$MASTER_ADDR\" ] || MASTER_ADDR=$(hostname)\n",
      "MASTER_PORT=$((29500 + ${SLURM_JOB_ID:-0} % 20000))\n",
      "while grep -qi \":$(printf '%04X' \"$MASTER_PORT\") [0-9A-F]*:[0-9A-F]* 0A \" ",
      "/proc/net/tcp /proc/net/tcp6 2>/dev/null; do MASTER_PORT=$((MASTER_PORT + 1)); done\n",
      "export MASTER_ADDR MASTER_PORT\n",
      "echo \"mlcube-agent: $SLURM_NTASKS ranks on $SLURM_JOB_NUM_NODES node(s) ",
      "($SLURM_JOB_NODELIST), MASTER_ADDR=$MASTER_ADDR MASTER_PORT=$MASTER_PORT\" >&2\n");
  if (!c.stage.empty()) {
    absl::StrAppend(&lines, "trap '", absl::StrReplaceAll(per_node, {{"'", "'\\''"}}),
                    " clean </dev/null' EXIT\n", per_node,
                    " stage </dev/null || { record 75; exit 75; }\n");
  }
  return lines;
}

std::string RankOutcomeLines(const SlurmStepFiles& files, const SlurmRanks& ranks) {
  const std::string exit_glob =
      absl::StrCat(SlurmBatchScript::ShellQuote(files.rank_exit_prefix), "*.exit");
  const std::string mpi =
      ranks.mpi.empty() ? ""
                        : absl::StrCat(" ", SlurmBatchScript::ShellQuote("--mpi=" + ranks.mpi));
  // srun (since 22.05) no longer takes --cpus-per-task from the allocation.
  return absl::StrCat(
      SlurmBatchScript::ShellQuote(ranks.srun), " --kill-on-bad-exit=1", mpi,
      " ${SLURM_CPUS_PER_TASK:+--cpus-per-task=\"$SLURM_CPUS_PER_TASK\"} /bin/sh ",
      SlurmBatchScript::ShellQuote(files.rank_script), " run </dev/null\n", "rc=$?\nfailed=\n",
      "for f in ", exit_glob, "; do\n",
      "  [ -f \"$f\" ] && code=$(cat \"$f\") && [ \"$code\" != 0 ] || continue\n",
      "  r=${f##*.rank-}; r=${r%.exit}\n",
      "  if [ -z \"$failed\" ] || [ \"$r\" -lt \"$failed\" ]; then failed=$r; rc=$code; fi\n",
      "done\n",
      "if [ -n \"$failed\" ]; then echo \"mlcube-agent: rank $failed exited with code $rc; ",
      "srun stopped the other ranks\" >&2\n",
      "elif [ \"$rc\" -ne 0 ]; then echo \"mlcube-agent: srun ended with code $rc\" >&2; fi\n");
}

}  // namespace

std::string SlurmBatchScript::Render(const std::vector<std::string>& argv, const std::string& cwd,
                                     const SlurmStepFiles& files,
                                     const SlurmConveniences& conveniences,
                                     const SlurmRanks& ranks) {
  std::string script = Header(files);
  if (ranks.ThroughSrun()) {
    absl::StrAppend(&script, "rm -f ", ShellQuote(files.rank_exit_prefix), "*.exit\n",
                    ScratchLines(conveniences), RankedBody(files, conveniences, ranks),
                    EnterLines(cwd), RankOutcomeLines(files, ranks));
  } else {
    std::vector<std::string> words;
    words.reserve(argv.size());
    for (const std::string& a : argv) words.push_back(ShellQuote(a));
    absl::StrAppend(&script, ConvenienceLines(conveniences), EnterLines(cwd),
                    absl::StrJoin(words, " "), " </dev/null\nrc=$?\n");
  }
  // Not `exec`: the exit status is recorded, and the EXIT trap cleans up.
  absl::StrAppend(&script, "record \"$rc\"\nexit \"$rc\"\n");
  return script;
}

std::string SlurmBatchScript::RenderRankScript(const std::vector<std::string>& argv,
                                               const SlurmStepFiles& files,
                                               const SlurmConveniences& conveniences,
                                               const SlurmRanks& ranks) {
  std::vector<std::string> words;
  words.reserve(argv.size());
  for (const std::string& a : argv) words.push_back(ShellQuote(a));
  std::string script = absl::StrCat(
      "#!/bin/sh\n# Written by mlcube-agent; srun runs it once per rank (run) or node "
      "(stage, clean).\nrecord() { :; }\n",
      // Cancelled, every rank goes: the node's staged copy with them (the
      // batch script's `clean` step cannot run in a revoked allocation).
      conveniences.stage.empty() ? kTermTrap
                                 : "trap 'rm -rf \"$stage_dir\"; exit 143' TERM INT HUP\n",
      kStageDirLine, "case \"$1\" in\n", "  stage) mkdir -m 0700 \"$stage_dir\" || exit 75\n",
      BindableCheck("stage_dir"), StageCopyLines(conveniences, "stage_dir"), "    exit 0 ;;\n",
      "  clean) rm -rf \"$stage_dir\"; exit 0 ;;\n", "esac\n");
  absl::StrAppend(
      &script, "export RANK=\"$SLURM_PROCID\" LOCAL_RANK=\"$SLURM_LOCALID\" ",
      "WORLD_SIZE=\"$SLURM_NTASKS\" LOCAL_WORLD_SIZE=", ranks.tasks_per_node,
      " NODE_RANK=\"$SLURM_NODEID\"\n",
      "for v in RANK LOCAL_RANK WORLD_SIZE LOCAL_WORLD_SIZE NODE_RANK MASTER_ADDR MASTER_PORT ",
      "$(env | sed -n 's/^\\(SLURM_[A-Za-z0-9_]*\\)=.*/\\1/p; "
      "s/^\\(PMI[A-Z]*_[A-Za-z0-9_]*\\)=.*/\\1/p'); do\n",
      "  eval \"export APPTAINERENV_$v=\\\"\\$$v\\\" SINGULARITYENV_$v=\\\"\\$$v\\\"\"\n",
      "done\n");
  if (conveniences.node_tmp) absl::StrAppend(&script, NodeDirLines(conveniences, "rank_dir"));
  absl::StrAppend(&script, StageBindLines(conveniences, "stage_dir"));
  const std::string exit_file =
      absl::StrCat(ShellQuote(files.rank_exit_prefix), "\"$SLURM_PROCID\".exit");
  // stdout and stderr each through their own prefixing sed: the command's
  // stderr goes to the inner pipe, its stdout to fd 3, the outer pipe.
  absl::StrAppend(&script, "p=\"[rank $SLURM_PROCID] \"\nrm -f ", exit_file, "\n", "{ { ",
                  absl::StrJoin(words, " "), " </dev/null 2>&1 1>&3 3>&-; echo \"$?\" > ",
                  exit_file, "; } | sed -u \"s/^/$p/\" >&2; } 3>&1 | sed -u \"s/^/$p/\"\n",
                  "rc=$(cat ", exit_file, " 2>/dev/null) || rc=70\nexit \"$rc\"\n");
  return script;
}

std::vector<std::string> SlurmBatchScript::SbatchArgv(
    const std::string& sbatch, const std::string& job_name,
    const std::vector<std::string>& resource_options, const SlurmStepFiles& files) {
  std::vector<std::string> argv = {sbatch,
                                   "--parsable",
                                   "--job-name=" + job_name,
                                   "--output=" + files.out,
                                   "--error=" + files.err,
                                   "--open-mode=append",
                                   "--export=ALL"};
  argv.insert(argv.end(), resource_options.begin(), resource_options.end());
  argv.push_back(files.script);
  return argv;
}

}  // namespace mlcube
