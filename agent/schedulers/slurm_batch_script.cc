#include "agent/schedulers/slurm_batch_script.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace mlcube {

std::string SlurmBatchScript::ShellQuote(const std::string& word) {
  return absl::StrCat("'", absl::StrReplaceAll(word, {{"'", "'\\''"}}), "'");
}

namespace {

std::string ConvenienceLines(const SlurmConveniences& c) {
  std::string lines;
  if (!c.scratch_dir.empty()) {
    const std::string dir = SlurmBatchScript::ShellQuote(c.scratch_dir);
    absl::StrAppend(&lines, "mkdir -p ", dir, " && echo \"mlcube-agent: /scratch_storage is ",
                    "$(hostname):\"", dir, " >&2\n");
    for (const char* var : {"APPTAINER_BIND", "SINGULARITY_BIND"}) {
      absl::StrAppend(&lines, "export ", var, "=\"${", var, ":+$", var, ",}\"", dir,
                      "':/scratch_storage'\n");
    }
  }
  if (!c.node_tmp && c.stage.empty()) return lines;
  absl::StrAppend(&lines,
                  "node_dir=$(mktemp -d \"${SLURM_TMPDIR:-${TMPDIR:-/tmp}}/mlcube-job.XXXXXX\") "
                  "&& trap 'rm -rf \"$node_dir\"' EXIT || { record 75; exit 75; }\n");
  if (!c.stage.empty()) {
    // Staged copies are bound through APPTAINER_BIND, a bind list: a node
    // directory holding one of its separators would bind something else.
    absl::StrAppend(&lines, R"sh(case "$node_dir" in *[,:^\\\"]*|*[[:cntrl:]]*) )sh",
                    R"sh(echo "mlcube-agent: cannot bind staged data from $node_dir on )sh",
                    R"sh($(hostname)" >&2; record 75; exit 75;; esac)sh", "\n");
  }
  if (c.node_tmp) {
    absl::StrAppend(&lines,
                    "mkdir \"$node_dir/work\" && export APPTAINER_WORKDIR=\"$node_dir/work\" "
                    "SINGULARITY_WORKDIR=\"$node_dir/work\"\n");
  }
  for (size_t i = 0; i < c.stage.size(); ++i) {
    const std::string from = SlurmBatchScript::ShellQuote(c.stage[i].first);
    const std::string to = absl::StrCat("\"$node_dir/stage", i, "\"");
    absl::StrAppend(&lines, "start=$(date +%s.%N)\n", "cp -a ", from, " ", to,
                    " || { echo \"mlcube-agent: staging \"", from,
                    "\" to $(hostname) failed\" >&2; record 75; exit 75; }\n",
                    "echo \"mlcube-agent: staged \"", from, "\" to $(hostname):\"", to,
                    "\" in $(awk \"BEGIN {printf \\\"%.2f\\\", $(date +%s.%N) - $start}\")s "
                    "($(du -sh ",
                    to, " | cut -f1))\" >&2\n");
    for (const char* var : {"APPTAINER_BIND", "SINGULARITY_BIND"}) {
      absl::StrAppend(&lines, "export ", var, "=\"${", var, ":+$", var, ",}\"", to,
                      "':", c.stage[i].second, ":ro'\n");
    }
  }
  return lines;
}

}  // namespace

std::string SlurmBatchScript::Render(const std::vector<std::string>& argv, const std::string& cwd,
                                     const SlurmStepFiles& files,
                                     const SlurmConveniences& conveniences) {
  std::vector<std::string> words;
  words.reserve(argv.size());
  for (const std::string& a : argv) words.push_back(ShellQuote(a));
  const std::string exit_file = ShellQuote(files.exit);
  const std::string exit_tmp = ShellQuote(files.exit + ".tmp");
  std::string script = "#!/bin/sh\n# Written by mlcube-agent; runs one step of a job.\n";
  absl::StrAppend(&script, "rm -f ", exit_file, "\n");
  absl::StrAppend(&script, "record() { echo \"exit $1\" > ", exit_tmp, " && mv -f ", exit_tmp, " ",
                  exit_file, "; }\n");
  absl::StrAppend(&script, ConvenienceLines(conveniences));
  if (!cwd.empty()) {
    absl::StrAppend(&script, "cd ", ShellQuote(cwd),
                    " || { echo \"mlcube-agent: cannot enter the working directory on $(hostname)\""
                    " >&2; record 126; exit 126; }\n");
  }
  absl::StrAppend(&script, absl::StrJoin(words, " "), " </dev/null\n");
  // Not `exec`: the exit status is recorded, and the EXIT trap cleans up.
  absl::StrAppend(&script, "rc=$?\nrecord \"$rc\"\nexit \"$rc\"\n");
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
