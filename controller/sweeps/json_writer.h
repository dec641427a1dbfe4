#ifndef MLCUBE_REMOTE_CONTROLLER_SWEEPS_JSON_WRITER_H_
#define MLCUBE_REMOTE_CONTROLLER_SWEEPS_JSON_WRITER_H_

// JSON text from a YAML tree (a swept .json file, `runs --json`), keeping
// the key order of the tree. yaml-cpp reads JSON but only writes YAML; the
// protobuf Struct writer would sort keys and turn every integer into a
// double, so this small writer does it instead.

#include <yaml-cpp/yaml.h>

#include <string>

#include "absl/strings/string_view.h"

namespace mlcube {

class JsonWriter {
 public:
  // A plain (unquoted) scalar that is a JSON number, true, false or null is
  // written bare; every other scalar is a string. `indent` > 0 pretty-prints.
  static std::string FromYaml(const YAML::Node& node, int indent = 2);

  // True when `text` is a JSON number literal.
  static bool IsNumber(absl::string_view text);

 private:
  static void Append(const YAML::Node& node, int indent, int depth, std::string* out);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SWEEPS_JSON_WRITER_H_
