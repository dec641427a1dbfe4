#include "agent/schedulers/slurm_array_script.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/schedulers/slurm_batch_script.h"

namespace mlcube {

std::string SlurmArrayScript::Render(const std::vector<SlurmArrayElement>& elements) {
  std::string script =
      "#!/bin/sh\n# Written by mlcube-agent; element N of this array runs the step of run N.\n"
      "case \"$SLURM_ARRAY_TASK_ID\" in\n";
  for (const SlurmArrayElement& e : elements) {
    const SlurmStepFiles files(e.step_prefix);
    const std::string dir = e.step_prefix.substr(0, e.step_prefix.rfind('/') + 1);
    absl::StrAppend(&script, "  ", e.index, ") cd ", SlurmBatchScript::ShellQuote(dir), " && ");
    if (e.has_env) {
      absl::StrAppend(&script, ". ", SlurmBatchScript::ShellQuote(EnvPath(e.step_prefix)), " && ");
    }
    absl::StrAppend(&script, "exec /bin/sh ", SlurmBatchScript::ShellQuote(files.script), " >>",
                    SlurmBatchScript::ShellQuote(files.out), " 2>>",
                    SlurmBatchScript::ShellQuote(files.err), " ;;\n");
  }
  absl::StrAppend(&script,
                  "  *) echo \"mlcube-agent: no run for array index $SLURM_ARRAY_TASK_ID\" >&2; "
                  "exit 64 ;;\nesac\n");
  return script;
}

std::string SlurmArrayScript::ArraySpec(std::vector<int> indices, int parallel) {
  std::sort(indices.begin(), indices.end());
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  std::vector<std::string> ranges;
  for (size_t i = 0; i < indices.size();) {
    size_t j = i;
    while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
    ranges.push_back(j == i ? absl::StrCat(indices[i]) : absl::StrCat(indices[i], "-", indices[j]));
    i = j + 1;
  }
  std::string spec = absl::StrJoin(ranges, ",");
  if (parallel > 0) absl::StrAppend(&spec, "%", parallel);
  return spec;
}

std::vector<std::string> SlurmArrayScript::SbatchArgv(
    const std::string& sbatch, const std::string& job_name, const std::string& array_spec,
    const std::vector<std::string>& resource_options, const std::string& prefix) {
  std::vector<std::string> argv = {sbatch,
                                   "--parsable",
                                   "--job-name=" + job_name,
                                   "--array=" + array_spec,
                                   "--output=" + prefix + "-%a.out",
                                   "--error=" + prefix + "-%a.out",
                                   "--open-mode=append",
                                   "--export=ALL"};
  argv.insert(argv.end(), resource_options.begin(), resource_options.end());
  argv.push_back(prefix + ".sh");
  return argv;
}

std::string SlurmArrayScript::EnvFile(const std::map<std::string, std::string>& env) {
  std::string text;
  for (const auto& [key, value] : env) {
    absl::StrAppend(&text, "export ", SlurmBatchScript::ShellQuote(key + "=" + value), "\n");
  }
  return text;
}

}  // namespace mlcube
