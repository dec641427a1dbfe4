#ifndef MLCUBE_REMOTE_COMMON_CUBE_H_
#define MLCUBE_REMOTE_COMMON_CUBE_H_

// The in-memory model of an MLCube, the same for both on-disk layouts
// (single-file mlcube.yaml and the older tasks/ run/ platform/ layout).
// All values are fully interpolated; paths are absolute host paths.

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

#include "common/singularity_source.h"

namespace mlcube {

// kUnknown: no `type` and no trailing '/'; as MLCube does, the planner
// decides from what the path is on the host (a missing path is an error).
enum class ParameterType { kFile, kDirectory, kUnknown };
// How container paths are named: MLCube's runners (/mlcube_ioN) or the
// older runners (/mlcube_ioN/NAME for a directory, /mlcube_ioN/HOST_DIR for
// the directory of a file).
enum class MountNaming { kMlcube, kOlderRunners };
enum class AccessMode { kReadWrite, kReadOnly };
enum class BuildStrategy { kPull, kAuto, kAlways };

struct Parameter {
  std::string name;
  ParameterType type = ParameterType::kFile;
  // As written after interpolation; relative paths are workspace-relative.
  std::string default_value;
  // default_value resolved against the workspace, lexically normalised.
  std::string host_path;
  AccessMode access = AccessMode::kReadWrite;
};

struct Task {
  std::string name;
  // Empty: the image's entrypoint runs with the task name as first argument.
  std::string entrypoint;
  std::vector<Parameter> inputs;
  std::vector<Parameter> outputs;
  MountNaming mount_naming = MountNaming::kMlcube;
};

struct DockerSettings {
  std::string image;
  std::string build_context;  // absolute
  std::string build_file;     // relative to build_context, e.g. "Dockerfile"
  BuildStrategy build_strategy = BuildStrategy::kPull;
  std::map<std::string, std::string> build_args;
  std::string env_args;  // extra `docker run` arguments, as written
  std::string gpu_args;
  std::string cpu_args;
};

struct SingularitySettings {
  // Image file name or path; absolute when image_dir is empty.
  std::string image;
  std::string image_dir;      // absolute, may be empty
  std::string build_context;  // absolute
  std::string build_file;     // recipe, relative to build_context
  std::string build_args;     // extra `build` arguments
  std::string run_args;       // extra `run`/`exec` arguments
};

enum class CubeLayout { kSingleFile, kLegacy };

struct Cube {
  CubeLayout layout = CubeLayout::kSingleFile;
  std::string config_file;  // absolute path of mlcube.yaml
  std::string root;         // absolute cube directory
  std::string workspace;    // absolute workspace directory
  // Agent side only: the second tree the controller synced for a build
  // context outside the cube (docker.build_context: ../project), or empty.
  // A build may read beneath the cube's root or beneath this tree.
  std::string synced_build_context;
  // Agent side only: the trees an input written relative to the workspace
  // may lie in when outside it (PlaceRepositoryInputs): the cube's own
  // root and the repository trees the controller synced for it.
  std::vector<std::string> input_trees;
  std::string name;
  std::string description;
  std::vector<std::string> authors;
  int accelerator_count = 0;
  DockerSettings docker;
  SingularitySettings singularity;
  // Ordered by name.
  std::map<std::string, Task> tasks;
  // The effective configuration tree (what `show-config` prints).
  YAML::Node effective_config;
  // The configuration as the cube's files (and platform file, host settings
  // and -P) wrote it, interpolated, before any runner default.
  YAML::Node written_config;
  // Where its SIF comes from, as MLCube's singularity runner decides
  // (ChooseSingularitySource): the section as written, a recipe or docker
  // image it names, or the cube's docker image.
  SingularitySource singularity_source = SingularitySource::kAsWritten;
  // One line each, "FILE: KEY: what" (unknown keys MLCube ignores).
  std::vector<std::string> warnings;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_CUBE_H_
