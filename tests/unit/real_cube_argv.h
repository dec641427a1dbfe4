#ifndef MLCUBE_REMOTE_TESTS_UNIT_REAL_CUBE_ARGV_H_
#define MLCUBE_REMOTE_TESTS_UNIT_REAL_CUBE_ARGV_H_

// Reads docker/singularity command lines (ours and MLCube's) into the parts
// that must be equal, leaving out the deliberate differences listed in the
// real-cube corpus README (--rm, --name, --label, --user, --contain ...).

#include <yaml-cpp/yaml.h>

#include <string>
#include <tuple>
#include <vector>

namespace mlcube {

// Writes our absolute paths the way expected/ does: ${CUBE}, ${CUBE}/..,
// ${HOME}.
class ArgvNormalizer {
 public:
  ArgvNormalizer(std::string root, std::string home);
  std::string NormalizeOne(const std::string& text) const;
  std::vector<std::string> Normalize(const std::vector<std::string>& argv) const;

 private:
  std::string root_;
  std::string parent_;
  std::string home_;
};

using MountEntry = std::tuple<std::string, std::string, bool>;  // host, container, ro

struct RunLine {
  std::string verb;                // run | exec
  std::vector<MountEntry> mounts;  // sorted
  std::string entrypoint;
  std::vector<std::string> env;    // sorted
  std::vector<std::string> extra;  // in order, "--opt=v" split in two
  std::string image;
  std::vector<std::string> tail;  // after the image
};

// `image`: the docker image, or the SIF file name for singularity.
RunLine ParseRunLine(const std::vector<std::string>& argv, const std::string& runner,
                     const std::string& image);
void ExpectSameRunLine(const RunLine& expected, const RunLine& ours);
// Our plan's environment that argv does not show (StepCommand::shown_env,
// the dry-run's "env"): a variable copied from the caller is MLCube's
// `-e NAME`, so it is added to `line` as NAME.
void AddShownEnv(const std::vector<std::string>& shown_env, RunLine* line);

struct ConfigureLine {
  std::string kind;  // pull | build
  std::string image;
  std::string file;               // docker -f
  std::string context;            // docker build context
  std::string source;             // singularity: recipe (absolute) or docker://...
  std::vector<std::string> args;  // sorted
};

ConfigureLine ParseExpectedConfigure(const std::vector<std::string>& argv);
ConfigureLine ParseOurConfigure(const std::vector<std::string>& argv, const std::string& cwd,
                                const std::string& job_id);
void ExpectSameConfigure(const ConfigureLine& expected, const ConfigureLine& ours);

// The docker image (or SIF file name) and facts of an expected platform.
std::string ExpectedImage(const YAML::Node& platform, const std::string& runner);
bool ExpectedConfigureBuilds(const YAML::Node& platform);
std::string ExpectedImageDir(const YAML::Node& platform);

// Compares an expected show_config tree with ours (scalars of ours
// normalised), naming the key path of each difference.
void ExpectSameConfig(const YAML::Node& expected, const YAML::Node& ours,
                      const ArgvNormalizer& normalizer);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_TESTS_UNIT_REAL_CUBE_ARGV_H_
