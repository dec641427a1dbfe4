#ifndef MLCUBE_REMOTE_COMMON_CUBE_SCHEMA_H_
#define MLCUBE_REMOTE_COMMON_CUBE_SCHEMA_H_

// Checks a fully merged and interpolated single-file configuration tree and
// turns it into the typed Cube model. Every error is one line naming the
// file and the key path.

#include <string>

#include "absl/status/statusor.h"
#include "common/cube.h"

namespace mlcube {

struct CubeSchemaContext {
  std::string file_name;  // for messages
  std::string config_file;
  std::string root;       // absolute
  std::string workspace;  // absolute
  CubeLayout layout = CubeLayout::kSingleFile;
};

absl::StatusOr<Cube> BuildCubeFromConfig(const YAML::Node& config,
                                         const CubeSchemaContext& context);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_CUBE_SCHEMA_H_
