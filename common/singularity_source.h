#ifndef MLCUBE_REMOTE_COMMON_SINGULARITY_SOURCE_H_
#define MLCUBE_REMOTE_COMMON_SINGULARITY_SOURCE_H_

// Where a single-file cube's SIF image comes from, decided as MLCube's
// singularity runner decides it (Config.merge, mlcommons/mlcube@6b32fa3),
// from the cube's `singularity:` section as written (s_cfg: absent, null
// and {} alike) and its resolved configuration:
//   1. a build file that is a docker image (`docker://`, `docker-archive:`;
//      and `docker-daemon:`, which only we know)
//      or a file beneath the cube's root (s_cfg.build_file, else
//      "Singularity.recipe"; relative to the root, or to the section's
//      build_context when it names one: MLCube's runner has no such key,
//      ours does): the SIF is s_cfg.image, else the recipe's letters and
//      digits + ".sif" ("Singularityrecipe.sif");
//   2. otherwise, with a docker image: the SIF is the docker image's
//      letters and digits + ".sif" and it is built from `docker://IMAGE`
//      (`docker-archive:TAR` with docker.tar_file), even when s_cfg names
//      an image (MLCube overwrites it);
//   3. otherwise the section as written (the task will fail to build).
// MLCube first keeps s_cfg as it is when the SIF it names already exists on
// the caller's machine; here the SIF lives in the agent's image directory,
// so that check is left out (a freshly cloned cube, as MLCube sees it).

#include <yaml-cpp/yaml.h>

#include <string>

namespace mlcube {

enum class SingularitySource { kAsWritten, kRecipe, kDockerImage };

struct SingularityChoice {
  SingularitySource source = SingularitySource::kAsWritten;
  std::string image;       // SIF file name (the section's when kAsWritten)
  std::string build_file;  // recipe, docker://IMAGE or docker-archive:TAR
};

// `written`: the cube's `singularity:` node as written (may be undefined or
// null); `effective`: the whole resolved configuration with the runners'
// defaults; `root`: the cube's directory.
SingularityChoice ChooseSingularitySource(const YAML::Node& written, const YAML::Node& effective,
                                          const std::string& root);

// "mlcommons/mnist:0.0.1" -> "mlcommonsmnist001.sif", as MLCube names SIFs.
std::string SifNameFrom(const std::string& source);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_SINGULARITY_SOURCE_H_
