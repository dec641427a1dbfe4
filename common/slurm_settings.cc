#include "common/slurm_settings.h"

#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace mlcube {
namespace {

// sbatch options the agent sets itself (output files, name, environment,
// the script) or that would make a job the agent cannot follow.
constexpr const char* kRefusedOptions[] = {"-o",
                                           "--output",
                                           "-e",
                                           "--error",
                                           "-i",
                                           "--input",
                                           "-J",
                                           "--job-name",
                                           "-D",
                                           "--chdir",
                                           "--wrap",
                                           "--export",
                                           "--export-file",
                                           "--parsable",
                                           "--open-mode",
                                           "-W",
                                           "--wait",
                                           "-a",
                                           "--array",
                                           "--uid",
                                           "--gid",
                                           "--get-user-env",
                                           "-H",
                                           "--hold",
                                           "--test-only",
                                           "--batch",
                                           "-M",
                                           "--clusters"};

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

absl::Status CheckExtraArg(const std::string& arg, const std::string& key) {
  if (!absl::StartsWith(arg, "-")) {
    return absl::InvalidArgumentError(absl::StrCat(
        key, ": '", arg, "' is not an option (write --name=value, one word per option)"));
  }
  const std::string name = arg.substr(0, arg.find('='));
  for (const char* refused : kRefusedOptions) {
    if (name == refused || (name.size() > 2 && name[1] != '-' && absl::StartsWith(arg, refused) &&
                            std::string(refused).size() == 2)) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, ": ", name, " is set by mlcube-agent and cannot be given"));
    }
  }
  for (char c : arg) {
    if (absl::ascii_iscntrl(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": control character in '", arg, "'"));
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
    for (const std::string& arg : s->extra_args) {
      if (absl::Status st = CheckExtraArg(arg, path); !st.ok()) return st;
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat(path, ": unknown key (expected ",
                                                   absl::StrJoin(SlurmSettingKeys(), ", "), ")"));
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<std::string>& SlurmSettingKeys() {
  static const std::vector<std::string> keys = {
      "partition", "account",  "qos",        "time",      "cpus_per_task", "mem",     "constraint",
      "gres",      "gpu_flag", "extra_args", "configure", "scratch",       "node_tmp"};
  return keys;
}

absl::StatusOr<SlurmSettings> ParseSlurmSettings(const std::map<std::string, std::string>& values,
                                                 const std::string& where) {
  SlurmSettings settings;
  for (const auto& [key, value] : values) {
    const std::string path = absl::StrCat(where, ".", key);
    if (absl::Status s = SetValue(&settings, key, value, path); !s.ok()) return s;
  }
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
  if (s.cpus_per_task > 0) options.push_back(absl::StrCat("--cpus-per-task=", s.cpus_per_task));
  add("--mem=", s.mem);
  add("--constraint=", s.constraint);
  std::vector<std::string> gres;
  if (!s.gres.empty()) gres.push_back(s.gres);
  if (!gpus.empty()) {
    int count = 0;
    if (!absl::SimpleAtoi(gpus, &count) || count < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "gpus: '", gpus,
          "' cannot be asked of Slurm (give a count: Slurm picks the devices on the node)"));
    }
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
