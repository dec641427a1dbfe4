#include "common/slurm_settings.h"

#include <functional>
#include <iterator>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/getopt_long_grammar.h"

namespace mlcube {
namespace {

// sbatch's options (slurm-wlm 22.05): every long name, its one-letter form
// and whether it takes a value, as sbatch's getopt_long table has them
// (each name probed with glibc's own messages: "ambiguous; possibilities",
// "requires an argument", "doesn't allow an argument"). A name missing here
// is refused as unknown, so newer options fail closed.
constexpr GetoptArgument kNone = GetoptArgument::kNone;
constexpr GetoptArgument kRequired = GetoptArgument::kRequired;
constexpr GetoptArgument kOptional = GetoptArgument::kOptional;
constexpr GetoptOption kSbatchOptions[] = {
    {"account", 'A', kRequired},
    {"acctg-freq", 0, kRequired},
    {"array", 'a', kRequired},
    {"batch", 0, kRequired},
    {"bb", 0, kRequired},
    {"bbf", 0, kRequired},
    {"begin", 'b', kRequired},
    {"chdir", 'D', kRequired},
    {"cluster", 0, kRequired},
    {"cluster-constraint", 0, kRequired},
    {"clusters", 'M', kRequired},
    {"comment", 0, kRequired},
    {"constraint", 'C', kRequired},
    {"container", 0, kRequired},
    {"context", 0, kRequired},
    {"contiguous", 0, kNone},
    {"core-spec", 'S', kRequired},
    {"cores-per-socket", 0, kRequired},
    {"cpu-freq", 0, kRequired},
    {"cpus-per-gpu", 0, kRequired},
    {"cpus-per-task", 'c', kRequired},
    {"deadline", 0, kRequired},
    {"delay-boot", 0, kRequired},
    {"dependency", 'd', kRequired},
    {"distribution", 'm', kRequired},
    {"error", 'e', kRequired},
    {"exclude", 'x', kRequired},
    {"exclusive", 0, kOptional},
    {"export", 0, kRequired},
    {"export-file", 0, kRequired},
    {"extra-node-info", 'B', kRequired},
    {"get-user-env", 0, kOptional},
    {"gid", 0, kRequired},
    {"gpu-bind", 0, kRequired},
    {"gpu-freq", 0, kRequired},
    {"gpus", 'G', kRequired},
    {"gpus-per-node", 0, kRequired},
    {"gpus-per-socket", 0, kRequired},
    {"gpus-per-task", 0, kRequired},
    {"gres", 0, kRequired},
    {"gres-flags", 0, kRequired},
    {"help", 'h', kNone},
    {"hint", 0, kRequired},
    {"hold", 'H', kNone},
    {"ignore-pbs", 0, kNone},
    {"input", 'i', kRequired},
    {"job-name", 'J', kRequired},
    {"kill-on-invalid-dep", 0, kRequired},
    {"licenses", 'L', kRequired},
    {"mail-type", 0, kRequired},
    {"mail-user", 0, kRequired},
    {"mcs-label", 0, kRequired},
    {"mem", 0, kRequired},
    {"mem-bind", 0, kRequired},
    {"mem-per-cpu", 0, kRequired},
    {"mem-per-gpu", 0, kRequired},
    {"mincpus", 0, kRequired},
    {"network", 0, kRequired},
    {"nice", 0, kOptional},
    {"no-kill", 'k', kOptional},
    {"no-requeue", 0, kNone},
    {"nodefile", 'F', kRequired},
    {"nodelist", 'w', kRequired},
    {"nodes", 'N', kRequired},
    {"ntasks", 'n', kRequired},
    {"ntasks-per-core", 0, kRequired},
    {"ntasks-per-gpu", 0, kRequired},
    {"ntasks-per-node", 0, kRequired},
    {"ntasks-per-socket", 0, kRequired},
    {"ntasks-per-tres", 0, kRequired},
    {"open-mode", 0, kRequired},
    {"output", 'o', kRequired},
    {"overcommit", 'O', kNone},
    {"oversubscribe", 's', kNone},
    {"parsable", 0, kNone},
    {"partition", 'p', kRequired},
    {"power", 0, kRequired},
    {"prefer", 0, kRequired},
    {"priority", 0, kRequired},
    {"profile", 0, kRequired},
    {"propagate", 0, kOptional},
    {"qos", 'q', kRequired},
    {"quiet", 'Q', kNone},
    {"reboot", 0, kNone},
    {"requeue", 0, kNone},
    {"reservation", 0, kRequired},
    {"signal", 0, kRequired},
    {"sockets-per-node", 0, kRequired},
    {"spread-job", 0, kNone},
    {"switches", 0, kRequired},
    {"tasks-per-node", 0, kRequired},
    {"test-only", 0, kNone},
    {"thread-spec", 0, kRequired},
    {"threads-per-core", 0, kRequired},
    {"time", 't', kRequired},
    {"time-min", 0, kRequired},
    {"tmp", 0, kRequired},
    {"uid", 0, kRequired},
    {"usage", 0, kNone},
    {"use-min-nodes", 0, kNone},
    {"verbose", 'v', kNone},
    {"version", 'V', kNone},
    {"wait", 'W', kNone},
    {"wait-all-nodes", 0, kRequired},
    {"wckey", 0, kRequired},
    {"wrap", 0, kRequired},
};

const std::vector<GetoptOption>& SbatchOptions() {
  static const auto* options =
      new std::vector<GetoptOption>(std::begin(kSbatchOptions), std::end(kSbatchOptions));
  return *options;
}

// sbatch options the agent sets itself (output files, name, environment,
// the script) or that would make a job the agent cannot follow (another
// cluster, another user, no job at all). Refused in every spelling: sbatch
// takes any unique prefix of a long name and clustered short options, so
// they are found by parsing, never by comparing words.
constexpr const char* kRefusedOptions[] = {
    "output",   "error",       "input",        "job-name",  "chdir",     "wrap",
    "export",   "export-file", "parsable",     "open-mode", "wait",      "array",
    "uid",      "gid",         "get-user-env", "hold",      "test-only", "batch",
    "clusters", "cluster",     "help",         "usage",     "version"};

// Options a rank key sets: the agent must know the layout it starts the
// ranks with.
constexpr std::pair<const char*, const char*> kOptionsWithKeys[] = {
    {"nodes", "nodes"},
    {"ntasks", "nodes and ntasks_per_node"},
    {"ntasks-per-node", "ntasks_per_node"},
    {"gpus-per-node", "gpus_per_node"},
    {"distribution", "distribution"}};

bool AllOf(const std::string& value, const std::function<bool(char)>& ok) {
  if (value.empty()) return false;
  for (char c : value) {
    if (!ok(c)) return false;
  }
  return true;
}

// Names Slurm gives partitions, accounts, QOS, features and GRES.
bool NameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("_-.,:|&*!()[]+@=").find(c) != std::string_view::npos;
}

bool ValidTime(const std::string& value) {
  if (value == "infinite" || value == "UNLIMITED") return true;
  return AllOf(value,
               [](char c) {
                 return absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == ':' || c == '-';
               }) &&
         absl::ascii_isdigit(static_cast<unsigned char>(value.front()));
}

bool ValidMem(const std::string& value) {
  size_t digits = 0;
  while (digits < value.size() && absl::ascii_isdigit(static_cast<unsigned char>(value[digits]))) {
    ++digits;
  }
  if (digits == 0) return false;
  const std::string unit = value.substr(digits);
  return unit.empty() || unit == "K" || unit == "M" || unit == "G" || unit == "T";
}

// --distribution: {*|block|cyclic|arbitrary|plane=N}[:{*|block|cyclic|fcyclic}
// [:{*|block|cyclic|fcyclic}]][,Pack|,NoPack]
bool ValidDistribution(const std::string& value) {
  std::vector<std::string> packing = absl::StrSplit(value, ',');
  if (packing.size() > 2 ||
      (packing.size() == 2 && packing[1] != "Pack" && packing[1] != "NoPack")) {
    return false;
  }
  std::vector<std::string> levels = absl::StrSplit(packing[0], ':');
  if (levels.size() > 3) return false;
  int plane = 0;
  const std::string& first = levels[0];
  if (first != "*" && first != "block" && first != "cyclic" && first != "arbitrary" &&
      !(absl::StartsWith(first, "plane=") && absl::SimpleAtoi(first.substr(6), &plane) &&
        plane > 0)) {
    return false;
  }
  for (size_t i = 1; i < levels.size(); ++i) {
    if (levels[i] != "*" && levels[i] != "block" && levels[i] != "cyclic" &&
        levels[i] != "fcyclic") {
      return false;
    }
  }
  return true;
}

// extra_args: parsed as sbatch parses them (GetoptLongGrammar), so an
// abbreviation (--outp=, --wra=) or a clustered short option (-vo/path) is
// the option it stands for.
absl::Status CheckExtraArgs(const std::vector<std::string>& args, const std::string& key) {
  for (const std::string& arg : args) {
    for (char c : arg) {
      if (absl::ascii_iscntrl(static_cast<unsigned char>(c))) {
        return absl::InvalidArgumentError(absl::StrCat(key, ": control character in '", arg, "'"));
      }
    }
  }
  auto parsed = GetoptLongGrammar(&SbatchOptions()).Parse(args);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(key, ": ", parsed.status().message(),
                                                   " (sbatch options only, as --name=value)"));
  }
  for (const GetoptOccurrence& occurrence : *parsed) {
    for (const char* refused : kRefusedOptions) {
      if (occurrence.option->long_name == std::string_view(refused)) {
        return absl::InvalidArgumentError(absl::StrCat(key, ": '", occurrence.spelling, "' is --",
                                                       refused,
                                                       ", which mlcube-agent sets or does not "
                                                       "allow"));
      }
    }
  }
  return absl::OkStatus();
}

// With the rank keys in use, extra_args may not change the layout they set.
absl::Status CheckLayoutNotInExtraArgs(const SlurmSettings& s, const std::string& where) {
  if (s.nodes == 0 && s.ntasks_per_node == 0 && s.gpus_per_node == 0 && s.distribution.empty() &&
      s.mpi.empty()) {
    return absl::OkStatus();
  }
  auto parsed = GetoptLongGrammar(&SbatchOptions()).Parse(s.extra_args);
  if (!parsed.ok()) return parsed.status();
  for (const GetoptOccurrence& occurrence : *parsed) {
    for (const auto& [option, use_key] : kOptionsWithKeys) {
      if (occurrence.option->long_name == std::string_view(option)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".extra_args: '", occurrence.spelling, "' is --", option,
                         ", which the rank keys set (use slurm.", use_key, ")"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status SetValue(SlurmSettings* s, const std::string& key, const std::string& value,
                      const std::string& path) {
  auto bad = [&](const std::string& expected) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": bad value '", value, "' (expected ", expected, ")"));
  };
  if (key == "partition" || key == "account" || key == "qos" || key == "constraint" ||
      key == "gres") {
    if (!AllOf(value, NameChar)) return bad("a Slurm name");
    std::string* field = key == "partition" ? &s->partition
                         : key == "account" ? &s->account
                         : key == "qos"     ? &s->qos
                         : key == "gres"    ? &s->gres
                                            : &s->constraint;
    *field = value;
  } else if (key == "time") {
    if (!ValidTime(value)) return bad("minutes, HH:MM:SS or D-HH:MM:SS");
    s->time = value;
  } else if (key == "cpus_per_task") {
    if (!absl::SimpleAtoi(value, &s->cpus_per_task) || s->cpus_per_task < 1 ||
        s->cpus_per_task > 1000000) {
      return bad("a positive number");
    }
  } else if (key == "nodes" || key == "ntasks_per_node" || key == "gpus_per_node") {
    int* field = key == "nodes"             ? &s->nodes
                 : key == "ntasks_per_node" ? &s->ntasks_per_node
                                            : &s->gpus_per_node;
    if (!absl::SimpleAtoi(value, field) || *field < 1 || *field > 100000) {
      return bad("a positive number");
    }
  } else if (key == "distribution") {
    if (!ValidDistribution(value)) {
      return bad("Slurm's distribution, e.g. block, cyclic, block:cyclic, plane=4 or cyclic,Pack");
    }
    s->distribution = value;
  } else if (key == "mpi") {
    const bool plugin_name = value.size() <= 32 && AllOf(value, [](char c) {
                               return absl::ascii_islower(static_cast<unsigned char>(c)) ||
                                      absl::ascii_isdigit(static_cast<unsigned char>(c)) ||
                                      c == '_';
                             });
    if (!plugin_name) return bad("an MPI plugin of srun --mpi=list: pmi2, pmix, none");
    s->mpi = value;
  } else if (key == "mem") {
    if (!ValidMem(value)) return bad("a size such as 4000, 500M or 32G");
    s->mem = value;
  } else if (key == "gpu_flag") {
    if (value != "gres" && value != "gpus") return bad("gres or gpus");
    s->gpu_flag = value;
  } else if (key == "configure") {
    if (value != "login" && value != "job") return bad("login or job");
    s->configure_as_job = value == "job";
  } else if (key == "scratch" || key == "node_tmp") {
    if (value != "true" && value != "false") return bad("true or false");
    (key == "scratch" ? s->scratch : s->node_tmp) = value == "true";
  } else if (key == "extra_args") {
    s->extra_args = absl::StrSplit(value, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (absl::Status st = CheckExtraArgs(s->extra_args, path); !st.ok()) return st;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(path, ": unknown key (expected ",
                                                   absl::StrJoin(SlurmSettingKeys(), ", "), ")"));
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<std::string>& SlurmSettingKeys() {
  static const std::vector<std::string> keys = {
      "partition",     "account",      "qos",      "time",     "cpus_per_task",
      "mem",           "constraint",   "gres",     "gpu_flag", "extra_args",
      "configure",     "scratch",      "node_tmp", "nodes",    "ntasks_per_node",
      "gpus_per_node", "distribution", "mpi"};
  return keys;
}

absl::StatusOr<SlurmSettings> ParseSlurmSettings(const std::map<std::string, std::string>& values,
                                                 const std::string& where) {
  SlurmSettings settings;
  for (const auto& [key, value] : values) {
    const std::string path = absl::StrCat(where, ".", key);
    if (absl::Status s = SetValue(&settings, key, value, path); !s.ok()) return s;
  }
  if (absl::Status s = CheckLayoutNotInExtraArgs(settings, where); !s.ok()) return s;
  return settings;
}

absl::StatusOr<StageSpec> ParseStageSpec(const std::string& value) {
  StageSpec spec;
  const size_t colon = value.find(':');
  spec.path = value.substr(0, colon);
  if (colon != std::string::npos) spec.dest = value.substr(colon + 1);
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("--stage=", value, ": ", why));
  };
  if (spec.path.empty() || spec.path[0] != '/') return bad("PATH must be an absolute host path");
  for (char c : spec.path) {
    if (absl::ascii_iscntrl(static_cast<unsigned char>(c))) return bad("control character in PATH");
  }
  const bool plain = AllOf(spec.dest, [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-' ||
           c == '.';
  });
  if (!plain || spec.dest[0] != '/' || spec.dest.size() < 2 || spec.dest.back() == '/' ||
      absl::StrContains(spec.dest, "//") || absl::StrContains(spec.dest, "/.")) {
    return bad("DEST must be a plain absolute container path such as /data");
  }
  for (const char* reserved : {"/mlcube_io", "/scratch_storage", "/proc", "/sys", "/dev", "/etc",
                               "/bin", "/sbin", "/usr", "/lib", "/tmp", "/var"}) {
    if (absl::StartsWith(spec.dest, reserved)) {
      return bad(absl::StrCat("DEST may not be under ", reserved));
    }
  }
  return spec;
}

absl::StatusOr<std::vector<std::string>> SbatchResourceOptions(const SlurmSettings& s,
                                                               const std::string& gpus) {
  std::vector<std::string> options;
  auto add = [&](const char* flag, const std::string& value) {
    if (!value.empty()) options.push_back(absl::StrCat(flag, value));
  };
  add("--partition=", s.partition);
  add("--account=", s.account);
  add("--qos=", s.qos);
  add("--time=", s.time);
  if (s.nodes > 0) options.push_back(absl::StrCat("--nodes=", s.nodes));
  // Given whenever there are several ranks: the agent starts them by it.
  if (s.Ranks() > 1) options.push_back(absl::StrCat("--ntasks-per-node=", s.TasksPerNode()));
  if (s.cpus_per_task > 0) options.push_back(absl::StrCat("--cpus-per-task=", s.cpus_per_task));
  add("--distribution=", s.distribution);
  add("--mem=", s.mem);
  add("--constraint=", s.constraint);
  std::vector<std::string> gres;
  if (!s.gres.empty()) gres.push_back(s.gres);
  int count = 0;
  if (!gpus.empty() && (!absl::SimpleAtoi(gpus, &count) || count < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "gpus: '", gpus,
        "' cannot be asked of Slurm (give a count: Slurm picks the devices on the node)"));
  }
  if (s.gpus_per_node > 0 && count > 0 && count != s.gpus_per_node) {
    return absl::InvalidArgumentError(absl::StrCat("gpus: ", count,
                                                   " and slurm.gpus_per_node: ", s.gpus_per_node,
                                                   " ask twice (give one of them)"));
  }
  if (s.gpus_per_node > 0) {
    // --gres counts per node already.
    if (s.gpu_flag == "gpus") {
      options.push_back(absl::StrCat("--gpus-per-node=", s.gpus_per_node));
    } else {
      gres.push_back(absl::StrCat("gpu:", s.gpus_per_node));
    }
  } else if (count > 0) {
    if (s.gpu_flag == "gpus") {
      options.push_back(absl::StrCat("--gpus=", count));
    } else {
      gres.push_back(absl::StrCat("gpu:", count));
    }
  }
  if (!gres.empty()) options.push_back(absl::StrCat("--gres=", absl::StrJoin(gres, ",")));
  options.insert(options.end(), s.extra_args.begin(), s.extra_args.end());
  return options;
}

}  // namespace mlcube
