#ifndef MLCUBE_REMOTE_AGENT_RUNTIMES_APPTAINER_RUNTIME_H_
#define MLCUBE_REMOTE_AGENT_RUNTIMES_APPTAINER_RUNTIME_H_

// Apptainer and SingularityCE, with the semantics of MLCube's singularity
// runner: configure = `build IMAGE.sif RECIPE` (Singularity.recipe in the
// build context), or from `docker-daemon:IMAGE` when the cube's Docker image
// is built locally, or from `docker://IMAGE`; a task = `run`/`exec` with
// `--bind`, `--nv` for GPUs, env through APPTAINERENV_/SINGULARITYENV_.
//
// The SIF goes to the agent's image dir (never into the synced workspace)
// and is built under a temporary name, then checked (SIF magic at offset
// 32) and renamed, so a failed build never leaves a half image in place.

#include <string>

#include "agent/runtimes/container_runtime.h"

namespace mlcube {

class ApptainerRuntime final : public ContainerRuntime {
 public:
  // `flavour` is "apptainer" or "singularity". `docker_binary` (may be
  // empty) tells whether a local Docker image can be converted.
  ApptainerRuntime(std::string flavour, std::string binary, std::string docker_binary)
      : flavour_(std::move(flavour)),
        binary_(std::move(binary)),
        docker_binary_(std::move(docker_binary)) {}

  std::string name() const override { return flavour_; }
  // A recipe must keep its build inside the build context
  // (ApptainerRecipeCheck).
  absl::Status CheckCube(const Cube& cube, const StepContext& context) override;
  bool NeedsConfigure(const Cube& cube, const StepContext& context) override;
  absl::StatusOr<StepCommand> ConfigureCommand(const Cube& cube, const StepContext& context,
                                               std::string* notes) override;
  absl::Status FinishConfigure(const Cube& cube, const StepContext& context) override;
  void AbandonConfigure(const Cube& cube, const StepContext& context) override;
  absl::StatusOr<StepCommand> TaskCommand(const Cube& cube, const TaskInvocation& invocation,
                                          const StepContext& context) override;

  // IMAGE_DIR/NAME.sif for the cube.
  static std::string SifPath(const Cube& cube, const StepContext& context);

 private:
  // `docker image inspect IMAGE` succeeds (false without Docker).
  bool DockerImageExists(const std::string& image) const;
  // The cube's recipe, read beneath its build context and checked;
  // NOT_FOUND when there is none.
  static absl::StatusOr<std::string> ReadCheckedRecipe(const Cube& cube);
  std::string flavour_;
  std::string binary_;
  std::string docker_binary_;
};

// True when `path` is a file with "SIF_MAGIC" at byte offset 32.
bool IsSifFile(const std::string& path);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_RUNTIMES_APPTAINER_RUNTIME_H_
