#ifndef MLCUBE_REMOTE_COMMON_SAFE_PATH_H_
#define MLCUBE_REMOTE_COMMON_SAFE_PATH_H_

// Path checks used wherever a path comes from the network or a config file.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mlcube {

// Lexically normalises a path: collapses "//" and ".", resolves ".." against
// earlier components. Keeps a leading "/" and never walks above it; a
// relative path may keep leading ".." components.
std::string NormalizePath(absl::string_view path);

// True when `path` (normalised) equals `dir` or lies below it.
bool IsWithin(absl::string_view path, absl::string_view dir);

// Longest path accepted from the wire (and so the deepest tree a manifest
// can describe: kMaxPathBytes / 2 levels).
inline constexpr int64_t kMaxPathBytes = 4096;

// Checks a relative, '/'-separated path for the wire: not empty, not
// absolute, no empty, "." or ".." components, no NUL, at most 4096 bytes.
// The message names the path.
absl::Status ValidateRelativePath(absl::string_view path);

// `text` made safe to quote in an error message or log line: at most
// `max_bytes` of it ("..." marks the cut), control bytes as \xNN, so a
// hostile value can neither flood a log nor steer a terminal.
std::string PrintableExcerpt(absl::string_view text, size_t max_bytes = 200);

// Joins `base` and a validated relative path.
absl::StatusOr<std::string> JoinConfined(absl::string_view base, absl::string_view relative);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_SAFE_PATH_H_
