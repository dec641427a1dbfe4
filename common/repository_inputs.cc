#include "common/repository_inputs.h"

#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/safe_path.h"

namespace mlcube {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::string ParentOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

// Written relative to the workspace (not `/...`, not `~/...`) and outside
// the cube's own directory.
bool IsRepositoryInput(const Cube& cube, const Parameter& input) {
  if (absl::StartsWith(input.default_value, "/") || absl::StartsWith(input.default_value, "~")) {
    return false;
  }
  return !IsWithin(NormalizePath(input.host_path), NormalizePath(cube.root));
}

// The directory an input mounts: a file's parent, a directory itself.
std::string MountedDir(const Parameter& input) {
  const std::string path = NormalizePath(input.host_path);
  if (input.type == ParameterType::kDirectory) return path;
  if (input.type == ParameterType::kUnknown && IsDirectory(path)) return path;
  return ParentOf(path);
}

}  // namespace

std::string RepositoryRoot(const std::string& cube_root) {
  const std::string root = NormalizePath(cube_root);
  for (std::string dir = root;; dir = ParentOf(dir)) {
    if (Exists(dir + "/.git")) return dir;
    if (dir == "/") break;
  }
  return ParentOf(root);
}

std::string RelativeTo(const std::string& path, const std::string& dir) {
  const std::vector<std::string> a = absl::StrSplit(path, '/', absl::SkipEmpty());
  const std::vector<std::string> b = absl::StrSplit(dir, '/', absl::SkipEmpty());
  size_t common = 0;
  while (common < a.size() && common < b.size() && a[common] == b[common]) ++common;
  std::vector<std::string> parts(b.size() - common, "..");
  parts.insert(parts.end(), a.begin() + common, a.end());
  return absl::StrJoin(parts, "/");
}

absl::StatusOr<std::map<std::string, std::string>> RepositoryInputDirs(
    const Cube& cube, const std::vector<std::string>& tasks) {
  std::map<std::string, std::string> dirs;
  const std::string root = NormalizePath(cube.root);
  const std::string repository = RepositoryRoot(root);
  for (const std::string& name : tasks) {
    auto task = cube.tasks.find(name);
    if (task == cube.tasks.end()) continue;
    for (const Parameter& input : task->second.inputs) {
      if (!IsRepositoryInput(cube, input)) continue;
      const std::string dir = MountedDir(input);
      if (!IsWithin(dir, repository)) {
        return absl::InvalidArgumentError(absl::StrCat(
            cube.config_file, ": tasks.", name, ".parameters.inputs.", input.name, ": '",
            PrintableExcerpt(input.default_value), "' leaves the cube's repository (", repository,
            "): MLCube would mount it from this machine, but only paths inside the repository "
            "are synced to a host"));
      }
      dirs[RelativeTo(dir, root)] = dir;
    }
  }
  return dirs;
}

void PlaceRepositoryInputs(const std::map<std::string, std::string>& trees, Cube* cube) {
  const std::string root = NormalizePath(cube->root);
  std::vector<std::string> used = {root};
  for (auto& [name, task] : cube->tasks) {
    for (Parameter& input : task.inputs) {
      if (!IsRepositoryInput(*cube, input)) continue;
      const std::string rel = RelativeTo(NormalizePath(input.host_path), root);
      for (const auto& [key, copy] : trees) {
        if (rel != key && !absl::StartsWith(rel, key + "/")) continue;
        input.host_path = NormalizePath(absl::StrCat(copy, rel.substr(key.size())));
        if (std::find(used.begin(), used.end(), copy) == used.end()) used.push_back(copy);
        break;
      }
    }
  }
  cube->input_trees = used;
}

}  // namespace mlcube
