#include "common/mount_planner.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/safe_path.h"

namespace mlcube {
namespace {

std::string ParentOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

}  // namespace

absl::StatusOr<TaskInvocation> PlanTaskInvocation(const Task& task,
                                                  const MountPlanOptions& options) {
  TaskInvocation invocation;
  invocation.task = task.name;
  invocation.entrypoint = task.entrypoint;
  if (task.entrypoint.empty()) invocation.args.push_back(task.name);

  // host directory -> index into invocation.mounts
  std::map<std::string, size_t> mount_index;
  // host directory -> the parameter that decided its access mode
  std::map<std::string, std::string> mode_owner;
  std::set<std::string> to_create;

  for (const bool is_output : {false, true}) {
    const std::vector<Parameter>& group = is_output ? task.outputs : task.inputs;
    for (const Parameter& parameter : group) {
      const std::string key_path = absl::StrCat("tasks.", task.name, ".parameters.",
                                                is_output ? "outputs." : "inputs.", parameter.name);
      const std::string host_path = NormalizePath(parameter.host_path);
      if (host_path.empty() || host_path[0] != '/') {
        return absl::InvalidArgumentError(
            absl::StrCat(key_path, ": host path '", parameter.host_path, "' is not absolute"));
      }
      if (!options.confine_to.empty() && !IsWithin(host_path, options.confine_to)) {
        return absl::InvalidArgumentError(absl::StrCat(
            key_path, ": path '", parameter.default_value, "' is outside the workspace"));
      }
      const bool is_file = parameter.type == ParameterType::kFile;
      if (is_file && host_path == "/") {
        return absl::InvalidArgumentError(
            absl::StrCat(key_path, ": a file parameter cannot be '/'"));
      }
      const std::string host_dir = is_file ? ParentOf(host_path) : host_path;
      const bool read_only = parameter.access == AccessMode::kReadOnly;

      auto found = mount_index.find(host_dir);
      if (found == mount_index.end()) {
        Mount mount;
        mount.host_path = host_dir;
        mount.container_path = absl::StrCat("/mlcube_io", invocation.mounts.size());
        mount.read_only = read_only;
        found = mount_index.emplace(host_dir, invocation.mounts.size()).first;
        mode_owner[host_dir] = parameter.name;
        invocation.mounts.push_back(mount);
      } else if (invocation.mounts[found->second].read_only != read_only) {
        return absl::InvalidArgumentError(absl::StrCat(
            key_path, ": directory '", host_dir,
            "' is mounted read-only for one parameter and "
            "read-write for another ('",
            mode_owner[host_dir], "' and '", parameter.name, "'); give them the same opts"));
      }
      const Mount& mount = invocation.mounts[found->second];
      const std::string container_value =
          is_file ? absl::StrCat(mount.container_path, "/", BaseName(host_path))
                  : mount.container_path;
      invocation.args.push_back(absl::StrCat("--", parameter.name, "=", container_value));
      if (is_output && to_create.insert(host_dir).second) {
        invocation.directories_to_create.push_back(host_dir);
      }
    }
  }
  return invocation;
}

}  // namespace mlcube
