#ifndef MLCUBE_REMOTE_AGENT_RUNTIMES_BUILD_CONTEXT_H_
#define MLCUBE_REMOTE_AGENT_RUNTIMES_BUILD_CONTEXT_H_

// The directory an image build may read: a cube's build context. Every file
// a cube names for a build (docker.build_file, singularity.build_file, a
// recipe's %files sources, a localimage From:) is resolved beneath it
// relative to a directory fd: an absolute path, a ".." component or a
// symlink that leads out of the context is refused, so a cube can never make
// the agent read another identity's files (or the agent's own key) into its
// build log or image. Paths go through openat2(RESOLVE_BENEATH); on kernels
// without openat2 (before 5.6) every symlink on the way is refused instead.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/cube.h"
#include "common/unique_fd.h"

namespace mlcube {

class BuildContext {
 public:
  // Opens `context_dir` (absolute), which must lie beneath `cube_root`
  // without a symlink leading out. Errors name `key`.
  static absl::StatusOr<BuildContext> Open(const std::string& cube_root,
                                           const std::string& context_dir, absl::string_view key);

  // Opens `context_dir` beneath the cube's root, or beneath the tree synced
  // for a build context outside the cube (Cube::synced_build_context).
  static absl::StatusOr<BuildContext> OpenForCube(const Cube& cube, const std::string& context_dir,
                                                  absl::string_view key);

  const std::string& path() const { return path_; }

  // `relative` with "." and empty components dropped; INVALID_ARGUMENT,
  // naming `key`, when it is absolute, empty or has a ".." component.
  static absl::StatusOr<std::string> CleanRelative(absl::string_view relative,
                                                   absl::string_view key);

  // Opens `relative` beneath the context with `flags` (O_PATH, O_RDONLY,
  // ...; O_CLOEXEC is added). INVALID_ARGUMENT naming `key` when it leaves
  // the context; NOT_FOUND when it does not exist.
  absl::StatusOr<UniqueFd> OpenBeneath(absl::string_view relative, absl::string_view key,
                                       int flags) const;

  // The contents of the regular file `relative`, at most `max_bytes`.
  absl::StatusOr<std::string> ReadFile(absl::string_view relative, absl::string_view key,
                                       int64_t max_bytes) const;

  // For sources copied with every symlink dereferenced (Apptainer's
  // `cp -fLr`): OK when `relative` resolves beneath the context and, if it
  // is a directory, every symlink in the tree below it resolves beneath the
  // context to a non-directory. Walks iteratively, at most `max_entries`
  // entries (then RESOURCE_EXHAUSTED naming `key`).
  absl::Status CheckCopySource(absl::string_view relative, absl::string_view key,
                               size_t max_entries = 100000) const;

 private:
  BuildContext(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

  std::string path_;
  UniqueFd fd_;  // O_PATH | O_DIRECTORY
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_RUNTIMES_BUILD_CONTEXT_H_
