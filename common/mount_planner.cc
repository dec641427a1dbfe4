#include "common/mount_planner.h"

#include <sys/stat.h>

#include <map>
#include <set>

#include "absl/strings/match.h"
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

// Builds one invocation; one instance per call.
class InvocationBuilder {
 public:
  InvocationBuilder(const Task& task, const MountPlanOptions& options)
      : task_(task), options_(options) {
    invocation_.task = task.name;
    invocation_.entrypoint = task.entrypoint;
    if (task.entrypoint.empty()) invocation_.args.push_back(task.name);
    if (!options.confine_to.empty() && task.mount_naming == MountNaming::kMlcube) {
      Create(NormalizePath(options.confine_to));
    }
  }

  absl::Status Add(const Parameter& parameter, bool is_output);
  TaskInvocation Take() { return std::move(invocation_); }

 private:
  // Below one of MountPlanOptions::also_within.
  bool InAnotherTree(const std::string& host_path) const;
  absl::StatusOr<bool> IsFile(const Parameter& parameter, const std::string& host_path,
                              const std::string& key_path) const;
  absl::Status CheckMount(const Mount& mount, const std::string& key_path) const;
  void Create(const std::string& dir) {
    if (created_.insert(dir).second) invocation_.directories_to_create.push_back(dir);
  }

  const Task& task_;
  const MountPlanOptions& options_;
  TaskInvocation invocation_;
  std::map<std::string, size_t> mount_index_;      // host directory -> mount
  std::map<std::string, std::string> mode_owner_;  // host directory -> parameter
  std::set<std::string> created_;
};

bool InvocationBuilder::InAnotherTree(const std::string& host_path) const {
  for (const std::string& tree : options_.also_within) {
    if (IsWithin(host_path, NormalizePath(tree))) return true;
  }
  return false;
}

absl::StatusOr<bool> InvocationBuilder::IsFile(const Parameter& parameter,
                                               const std::string& host_path,
                                               const std::string& key_path) const {
  if (parameter.type != ParameterType::kUnknown) return parameter.type == ParameterType::kFile;
  const PathKind kind = options_.probe ? options_.probe(host_path) : ProbeHostPath(host_path);
  if (kind == PathKind::kMissing) {
    return absl::InvalidArgumentError(
        absl::StrCat(key_path, ": parameter '", parameter.name, "' has no type and '",
                     PrintableExcerpt(parameter.default_value),
                     "' does not exist yet, so it is neither a file nor a directory; give it "
                     "`type: file` or `type: directory` (or end a directory with '/')"));
  }
  return kind == PathKind::kFile;
}

absl::Status InvocationBuilder::CheckMount(const Mount& mount, const std::string& key_path) const {
  if (!options_.check_mount_path) return absl::OkStatus();
  for (const std::string* path : {&mount.host_path, &mount.container_path}) {
    absl::Status s = options_.check_mount_path(*path);
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat(key_path, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status InvocationBuilder::Add(const Parameter& parameter, bool is_output) {
  const std::string key_path = absl::StrCat("tasks.", task_.name, ".parameters.",
                                            is_output ? "outputs." : "inputs.", parameter.name);
  if (is_output && parameter.type == ParameterType::kUnknown) {
    // MLCube refuses the task whatever the path is on the host.
    return absl::InvalidArgumentError(absl::StrCat(
        key_path, ": output parameter '", parameter.name,
        "' has no type; MLCube refuses the task (\"Type cannot be unknown for output "
        "parameters\"): give it `type: file` or `type: directory` (or end a directory with '/')"));
  }
  const std::string host_path = NormalizePath(parameter.host_path);
  if (host_path.empty() || host_path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        key_path, ": host path '", PrintableExcerpt(parameter.host_path), "' is not absolute"));
  }
  const bool read_only = parameter.access == AccessMode::kReadOnly;
  const bool outside = !options_.confine_to.empty() && !IsWithin(host_path, options_.confine_to);
  const bool host_path_written = absl::StartsWith(parameter.default_value, "/") ||
                                 absl::StartsWith(parameter.default_value, "~");
  // An input in a tree synced with the cube is mounted like the workspace;
  // anything else outside it only as a host path the options allow.
  const bool in_tree = outside && !is_output && InAnotherTree(host_path);
  const bool as_host_path = outside && !in_tree && host_path_written && options_.allow_outside;
  if (outside && !in_tree && !as_host_path) {
    return absl::InvalidArgumentError(absl::StrCat(
        key_path, ": path '", PrintableExcerpt(parameter.default_value),
        "' is outside the workspace",
        host_path_written ? ""
        : is_output       ? " (outputs stay in the workspace: they are pulled back from there)"
                          : " and was not synced with the cube (only paths inside the cube's "
                            "repository are)"));
  }
  absl::StatusOr<bool> is_file = IsFile(parameter, host_path, key_path);
  if (!is_file.ok()) return is_file.status();
  if (*is_file && host_path == "/") {
    return absl::InvalidArgumentError(absl::StrCat(key_path, ": a file parameter cannot be '/'"));
  }
  const std::string host_dir = *is_file ? ParentOf(host_path) : host_path;
  // A file parameter naming the workspace itself would mount its parent.
  if (!outside && !options_.confine_to.empty() && !IsWithin(host_dir, options_.confine_to)) {
    return absl::InvalidArgumentError(absl::StrCat(
        key_path, ": a file parameter cannot be the workspace itself (its directory is mounted)"));
  }
  if (as_host_path) {
    absl::Status allowed = options_.allow_outside(host_dir, read_only);
    if (!allowed.ok()) {
      return absl::Status(allowed.code(), absl::StrCat(key_path, ": ", allowed.message()));
    }
  }
  const bool older = task_.mount_naming == MountNaming::kOlderRunners;
  auto found = mount_index_.find(host_dir);
  if (found == mount_index_.end()) {
    Mount mount;
    mount.host_path = host_dir;
    mount.container_path = absl::StrCat("/mlcube_io", invocation_.mounts.size());
    // The older runners appended the directory's name, or for a file's
    // directory its whole host path.
    if (older)
      absl::StrAppend(&mount.container_path, "/", *is_file ? host_dir : BaseName(host_dir));
    mount.read_only = read_only;
    if (absl::Status s = CheckMount(mount, key_path); !s.ok()) return s;
    found = mount_index_.emplace(host_dir, invocation_.mounts.size()).first;
    mode_owner_[host_dir] = parameter.name;
    invocation_.mounts.push_back(mount);
  } else if (invocation_.mounts[found->second].read_only != read_only) {
    return absl::InvalidArgumentError(absl::StrCat(
        key_path, ": directory '", host_dir,
        "' is mounted read-only for one parameter and read-write for another ('",
        mode_owner_[host_dir], "' and '", parameter.name, "'); give them the same opts"));
  }
  const Mount& mount = invocation_.mounts[found->second];
  const std::string value = *is_file ? absl::StrCat(mount.container_path, "/", BaseName(host_path))
                                     : mount.container_path;
  invocation_.args.push_back(absl::StrCat("--", parameter.name, "=", value));
  Create(host_dir);
  return absl::OkStatus();
}

}  // namespace

PathKind ProbeHostPath(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return PathKind::kMissing;
  return S_ISDIR(st.st_mode) ? PathKind::kDirectory : PathKind::kFile;
}

absl::StatusOr<TaskInvocation> PlanTaskInvocation(const Task& task,
                                                  const MountPlanOptions& options) {
  InvocationBuilder builder(task, options);
  for (const bool is_output : {false, true}) {
    for (const Parameter& parameter : is_output ? task.outputs : task.inputs) {
      absl::Status status = builder.Add(parameter, is_output);
      if (!status.ok()) return status;
    }
  }
  return builder.Take();
}

}  // namespace mlcube
