#include "tests/unit/real_cube_argv.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace mlcube {
namespace {

std::string BaseName(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

std::string DirName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

bool IsOneOf(const std::string& arg, const std::set<std::string>& names) {
  return names.count(arg) > 0;
}

// Splits "--opt=value" into its name and value; value empty when none.
std::pair<std::string, std::string> SplitOption(const std::string& arg) {
  const size_t eq = arg.find('=');
  if (!absl::StartsWith(arg, "-") || eq == std::string::npos) return {arg, ""};
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

MountEntry ParseMount(const std::string& spec) {
  std::vector<std::string> parts = absl::StrSplit(spec, ':');
  const bool ro = parts.size() > 2 && parts[2] == "ro";
  return {parts[0], parts.size() > 1 ? parts[1] : parts[0], ro};
}

size_t FindImage(const std::vector<std::string>& argv, size_t from, const std::string& runner,
                 const std::string& image) {
  for (size_t i = from; i < argv.size(); ++i) {
    if (runner == "docker" ? argv[i] == image : BaseName(argv[i]) == BaseName(image)) return i;
  }
  return argv.size();
}

// Takes one option (and its value) from argv[*i] into `line`.
void TakeOption(const std::vector<std::string>& argv, size_t end, size_t* i, RunLine* line) {
  static const std::set<std::string> kDeliberateFlags = {
      "--rm", "--detach", "-d", "--contain", "--cleanenv", "--pid", "-q"};
  static const std::set<std::string> kDeliberateValued = {"--name", "--label", "--user",
                                                          "--env-file"};
  static const std::set<std::string> kMounts = {"--volume", "-v", "--bind", "-B"};
  static const std::set<std::string> kEnv = {"-e", "--env"};
  const auto split = SplitOption(argv[*i]);
  const auto& name = split.first;
  const auto& value = split.second;
  const bool inline_value = !value.empty() || argv[*i].find('=') != std::string::npos;
  auto next_value = [&]() -> std::string {
    if (inline_value) return value;
    if (*i + 1 < end) return argv[++*i];
    return "";
  };
  if (IsOneOf(name, kDeliberateFlags)) return;
  if (IsOneOf(name, kDeliberateValued)) {
    next_value();
  } else if (IsOneOf(name, kMounts)) {
    line->mounts.push_back(ParseMount(next_value()));
  } else if (IsOneOf(name, kEnv)) {
    line->env.push_back(next_value());
  } else if (name == "--entrypoint") {
    line->entrypoint = next_value();
  } else {
    line->extra.push_back(name);
    if (inline_value) line->extra.push_back(value);
  }
}

}  // namespace

ArgvNormalizer::ArgvNormalizer(std::string root, std::string home)
    : root_(std::move(root)), parent_(DirName(root_)), home_(std::move(home)) {}

std::string ArgvNormalizer::NormalizeOne(const std::string& text) const {
  std::string out = absl::StrReplaceAll(text, {{root_, "${CUBE}"}});
  if (!parent_.empty()) out = absl::StrReplaceAll(out, {{parent_, "${CUBE}/.."}});
  if (!home_.empty() && home_ != "/") out = absl::StrReplaceAll(out, {{home_, "${HOME}"}});
  return out;
}

std::vector<std::string> ArgvNormalizer::Normalize(const std::vector<std::string>& argv) const {
  std::vector<std::string> out;
  for (const std::string& arg : argv) out.push_back(NormalizeOne(arg));
  return out;
}

RunLine ParseRunLine(const std::vector<std::string>& argv, const std::string& runner,
                     const std::string& image) {
  RunLine line;
  size_t i = 1;
  while (i < argv.size() && argv[i] != "run" && argv[i] != "exec") ++i;
  if (i < argv.size()) line.verb = argv[i++];
  const size_t image_at = FindImage(argv, i, runner, image);
  for (; i < image_at; ++i) TakeOption(argv, image_at, &i, &line);
  if (image_at < argv.size()) {
    line.image = runner == "docker" ? argv[image_at] : BaseName(argv[image_at]);
    line.tail.assign(argv.begin() + image_at + 1, argv.end());
  }
  std::sort(line.mounts.begin(), line.mounts.end());
  std::sort(line.env.begin(), line.env.end());
  return line;
}

void AddShownEnv(const std::vector<std::string>& shown_env, RunLine* line) {
  for (const std::string& entry : shown_env) {
    line->env.push_back(entry.substr(0, entry.find_first_of("= ")));
  }
  std::sort(line->env.begin(), line->env.end());
}

void ExpectSameRunLine(const RunLine& expected, const RunLine& ours) {
  auto mounts = [](const std::vector<MountEntry>& m) {
    std::vector<std::string> out;
    for (const auto& [host, container, ro] : m) {
      out.push_back(absl::StrCat(host, ":", container, ro ? ":ro" : ""));
    }
    return absl::StrJoin(out, " ");
  };
  EXPECT_EQ(expected.verb, ours.verb) << "run/exec";
  EXPECT_EQ(mounts(expected.mounts), mounts(ours.mounts)) << "mounts";
  EXPECT_EQ(expected.entrypoint, ours.entrypoint) << "entrypoint";
  EXPECT_EQ(expected.env, ours.env) << "environment";
  EXPECT_EQ(absl::StrJoin(expected.extra, " "), absl::StrJoin(ours.extra, " "))
      << "extra run arguments";
  EXPECT_EQ(expected.image, ours.image) << "image";
  EXPECT_EQ(absl::StrJoin(expected.tail, " "), absl::StrJoin(ours.tail, " "))
      << "entrypoint arguments and task arguments";
}

namespace {

// docker build/pull arguments after the verb.
void ParseDockerBuild(const std::vector<std::string>& argv, size_t i, ConfigureLine* line) {
  for (; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg == "--force-rm") continue;
    if ((arg == "-t" || arg == "-f" || arg == "--build-arg") && i + 1 < argv.size()) {
      const std::string& value = argv[++i];
      if (arg == "-t") line->image = value;
      if (arg == "-f") line->file = value;
      if (arg == "--build-arg") line->args.push_back(value);
    } else if (i + 1 == argv.size()) {
      line->context = arg;
    } else {
      line->args.push_back(arg);
    }
  }
}

ConfigureLine ParseConfigure(const std::vector<std::string>& argv, size_t verb_at,
                             const std::string& cwd, const std::string& sif_suffix) {
  ConfigureLine line;
  if (verb_at >= argv.size()) return line;
  const bool singularity = !absl::StrContains(BaseName(argv[verb_at - 1]), "docker");
  line.kind = argv[verb_at];
  if (line.kind == "pull") {
    if (verb_at + 1 < argv.size()) line.image = argv.back();
    return line;
  }
  if (!singularity) {
    ParseDockerBuild(argv, verb_at + 1, &line);
  } else if (argv.size() >= verb_at + 3) {
    std::string sif = argv[argv.size() - 2];
    if (!sif_suffix.empty() && absl::EndsWith(sif, sif_suffix)) {
      sif.resize(sif.size() - sif_suffix.size());
    }
    line.image = BaseName(sif);
    const std::string& source = argv.back();
    line.source = absl::StartsWith(source, "/") || absl::StartsWith(source, "${") ||
                          absl::StrContains(source, ":")
                      ? source
                      : absl::StrCat(cwd, "/", source);
    for (size_t i = verb_at + 1; i + 2 < argv.size(); ++i) {
      if (argv[i] != "--force") line.args.push_back(argv[i]);
    }
  }
  std::sort(line.args.begin(), line.args.end());
  return line;
}

}  // namespace

ConfigureLine ParseExpectedConfigure(const std::vector<std::string>& argv) {
  std::string cwd;
  size_t start = 0;
  if (!argv.empty() && argv[0] == "cd" && argv.size() > 1) {
    cwd = argv[1];
    if (absl::EndsWith(cwd, ";")) cwd.pop_back();
    start = (argv.size() > 2 && argv[2] == ";") ? 3 : 2;
  }
  return ParseConfigure(argv, start + 1, cwd, "");
}

ConfigureLine ParseOurConfigure(const std::vector<std::string>& argv, const std::string& cwd,
                                const std::string& job_id) {
  return ParseConfigure(argv, 1, cwd, absl::StrCat(".build-", job_id));
}

namespace {

// Deliberate: our builds read the copy of the recipe the agent checked,
// STEP.Dockerfile / STEP.def in the job's directory, not the cube's file.
std::string RecipeAsChecked(const std::string& ours, const std::string& expected) {
  const size_t slash = ours.rfind('/');
  const std::string name = slash == std::string::npos ? ours : ours.substr(slash + 1);
  const bool copy = absl::StartsWith(name, "step-") &&
                    (absl::EndsWith(name, ".Dockerfile") || absl::EndsWith(name, ".def"));
  return copy && !expected.empty() ? expected : ours;
}

}  // namespace

void ExpectSameConfigure(const ConfigureLine& expected, const ConfigureLine& ours) {
  EXPECT_EQ(expected.kind, ours.kind) << "pull or build";
  EXPECT_EQ(expected.image, ours.image) << "image";
  EXPECT_EQ(expected.file, RecipeAsChecked(ours.file, expected.file)) << "build file";
  EXPECT_EQ(expected.context, ours.context) << "build context";
  EXPECT_EQ(expected.source, RecipeAsChecked(ours.source, expected.source)) << "build source";
  EXPECT_EQ(absl::StrJoin(expected.args, " "), absl::StrJoin(ours.args, " ")) << "build arguments";
}

std::string ExpectedImage(const YAML::Node& platform, const std::string& runner) {
  if (platform["image"].IsDefined()) return platform["image"].as<std::string>();
  const std::string image = platform["config"]["runner"]["image"].as<std::string>();
  return runner == "docker" ? image : BaseName(image);
}

bool ExpectedConfigureBuilds(const YAML::Node& platform) {
  const YAML::Node configure = platform["configure_argv"];
  if (!configure.IsSequence() || configure.size() == 0) return false;
  for (const YAML::Node& arg : configure[configure.size() - 1]) {
    if (arg.as<std::string>() == "build") return true;
  }
  return false;
}

std::string ExpectedImageDir(const YAML::Node& platform) {
  if (platform["image"].IsDefined()) return DirName(platform["image"].as<std::string>());
  const YAML::Node dir = platform["config"]["runner"]["image_dir"];
  return dir.IsScalar() ? dir.as<std::string>() : "";
}

namespace {

void CompareConfig(const YAML::Node& expected, const YAML::Node& ours, const std::string& path,
                   const ArgvNormalizer& normalizer) {
  if (expected.IsMap()) {
    ASSERT_TRUE(ours.IsMap()) << path << ": expected a mapping";
    std::set<std::string> keys;
    for (auto it = expected.begin(); it != expected.end(); ++it) keys.insert(it->first.Scalar());
    for (auto it = ours.begin(); it != ours.end(); ++it) {
      EXPECT_TRUE(keys.count(it->first.Scalar()))
          << path << "." << it->first.Scalar() << ": not in MLCube's configuration";
    }
    for (const std::string& key : keys) {
      const std::string child = path.empty() ? key : absl::StrCat(path, ".", key);
      EXPECT_TRUE(ours[key].IsDefined()) << child << ": missing";
      if (ours[key].IsDefined()) CompareConfig(expected[key], ours[key], child, normalizer);
    }
    return;
  }
  if (expected.IsSequence()) {
    ASSERT_TRUE(ours.IsSequence()) << path << ": expected a list";
    ASSERT_EQ(expected.size(), ours.size()) << path;
    for (size_t i = 0; i < expected.size(); ++i) {
      CompareConfig(expected[i], ours[i], absl::StrCat(path, ".", i), normalizer);
    }
    return;
  }
  if (expected.IsNull()) {
    EXPECT_TRUE(ours.IsNull()) << path << ": expected null";
    return;
  }
  ASSERT_TRUE(ours.IsScalar()) << path << ": expected a value";
  std::string theirs = expected.Scalar();
  if (theirs == "true" || theirs == "false") {
    EXPECT_EQ(theirs, ours.Scalar() == "True" ? "true" : ours.Scalar()) << path;
    return;
  }
  EXPECT_EQ(theirs, normalizer.NormalizeOne(ours.Scalar())) << path;
}

}  // namespace

void ExpectSameConfig(const YAML::Node& expected, const YAML::Node& ours,
                      const ArgvNormalizer& normalizer) {
  CompareConfig(expected, ours, "", normalizer);
}

}  // namespace mlcube
