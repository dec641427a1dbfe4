#ifndef MLCUBE_REMOTE_CONTROLLER_COMMANDS_CUBE_OPTIONS_H_
#define MLCUBE_REMOTE_CONTROLLER_COMMANDS_CUBE_OPTIONS_H_

// The flags every cube command shares (--mlcube, --platform, --workspace,
// -P) and how they become CubeLoadOptions.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/cube_loader.h"

namespace CLI {
class App;
}

namespace mlcube {

struct CubeOptions {
  std::string mlcube = ".";
  std::string platform;
  std::string workspace;
  std::vector<std::string> overrides;
};

void AddCubeOptions(CLI::App* command, CubeOptions* options);

// Adds run-file bindings when `task` names an older layout's run file
// (run/train.yaml); returns the task names to run ("a,b" splits).
absl::StatusOr<std::vector<std::string>> ResolveTaskNames(const std::string& task,
                                                          CubeLoadOptions* load_options);

CubeLoadOptions ToLoadOptions(const CubeOptions& options);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_COMMANDS_CUBE_OPTIONS_H_
