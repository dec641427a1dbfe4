#include "common/manifest_validator.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/digest.h"
#include "common/safe_path.h"

namespace mlcube {

namespace {

using ::mlcube_remote::v1::ENTRY_TYPE_DIRECTORY;
using ::mlcube_remote::v1::ENTRY_TYPE_FILE;
using ::mlcube_remote::v1::ENTRY_TYPE_SYMLINK;
using ::mlcube_remote::v1::Manifest;
using ::mlcube_remote::v1::ManifestEntry;

std::string Printable(absl::string_view path) {
  std::string shown(path.substr(0, 300));
  for (char& c : shown) {
    if (c == '\0') c = '?';
  }
  return shown;
}

absl::Status Invalid(absl::string_view path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("manifest path '", Printable(path), "': ", why));
}

// True when `target`, resolved from the directory holding the link at
// `link_path`, stays inside the tree root. The target must be normalised:
// relative, no empty or "." components, ".." only as leading components.
// Lexical checks alone are unsafe for "s/.." when s is itself a symlink;
// with normalised targets, the leading ".." climb through real directories
// and the rest only descends, so by induction every link stays inside.
bool SymlinkStaysInside(absl::string_view link_path, absl::string_view target) {
  if (target.empty() || target.front() == '/') return false;
  if (target.find('\0') != absl::string_view::npos) return false;
  size_t depth = static_cast<size_t>(std::count(link_path.begin(), link_path.end(), '/'));
  bool descended = false;
  for (absl::string_view part : absl::StrSplit(target, '/')) {
    if (part.empty() || part == ".") return false;
    if (part == "..") {
      if (descended || depth == 0) return false;
      --depth;
    } else {
      descended = true;
    }
  }
  return true;
}

}  // namespace

absl::Status ManifestValidator::ValidateEntry(const ManifestEntry& entry) {
  if (absl::Status status = ValidateRelativePath(entry.path()); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("manifest ", status.message()));
  }
  if (entry.mode() > 07777) return Invalid(entry.path(), "mode has bits beyond 07777");
  if (entry.type() != ENTRY_TYPE_FILE && entry.has_chunk_list()) {
    return Invalid(entry.path(), "chunk list on an entry that is not a file");
  }
  switch (entry.type()) {
    case ENTRY_TYPE_FILE:
      if (!entry.has_digest()) return Invalid(entry.path(), "file without digest");
      if (absl::Status status = ValidateDigest(entry.digest()); !status.ok()) {
        return Invalid(entry.path(), status.message());
      }
      if (!entry.symlink_target().empty()) return Invalid(entry.path(), "file with symlink target");
      if (entry.has_chunk_list()) {
        if (absl::Status status = ValidateDigest(entry.chunk_list()); !status.ok()) {
          return Invalid(entry.path(), absl::StrCat("chunk list: ", status.message()));
        }
      }
      break;
    case ENTRY_TYPE_DIRECTORY:
      if (entry.has_digest()) return Invalid(entry.path(), "directory with digest");
      if (!entry.symlink_target().empty()) {
        return Invalid(entry.path(), "directory with symlink target");
      }
      break;
    case ENTRY_TYPE_SYMLINK:
      if (entry.has_digest()) return Invalid(entry.path(), "symlink with digest");
      if (!SymlinkStaysInside(entry.path(), entry.symlink_target())) {
        return Invalid(entry.path(),
                       absl::StrCat("symlink target '", Printable(entry.symlink_target()),
                                    "' is not a normalised path inside the tree"));
      }
      break;
    default:
      return Invalid(entry.path(), "unknown entry type");
  }
  return absl::OkStatus();
}

absl::Status ManifestValidator::Validate(const Manifest& manifest) {
  if (manifest.entries_size() > kMaxEntries) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest has ", manifest.entries_size(), " entries, limit ", kMaxEntries));
  }
  const ManifestEntry* previous = nullptr;
  for (const ManifestEntry& entry : manifest.entries()) {
    if (absl::Status status = ValidateEntry(entry); !status.ok()) return status;
    if (previous != nullptr) {
      if (entry.path() == previous->path()) return Invalid(entry.path(), "duplicate entry");
      if (entry.path() < previous->path()) {
        return Invalid(entry.path(), absl::StrCat("not sorted (comes after '",
                                                  Printable(previous->path()), "')"));
      }
    }
    previous = &entry;
  }
  // No entry may lie below a listed file or symlink. ("a" < "a-x" < "a/b" in
  // bytewise order, so ancestors are looked up rather than tracked on a stack.)
  if (manifest.entries_size() > 1) {
    std::vector<absl::string_view> non_dirs;
    for (const ManifestEntry& entry : manifest.entries()) {
      if (entry.type() != ENTRY_TYPE_DIRECTORY) non_dirs.push_back(entry.path());
    }
    // non_dirs is sorted (a subsequence of a sorted list).
    for (const ManifestEntry& entry : manifest.entries()) {
      absl::string_view path = entry.path();
      for (size_t slash = path.find('/'); slash != absl::string_view::npos;
           slash = path.find('/', slash + 1)) {
        absl::string_view ancestor = path.substr(0, slash);
        if (std::binary_search(non_dirs.begin(), non_dirs.end(), ancestor)) {
          return Invalid(path, absl::StrCat("lies below '", Printable(ancestor),
                                            "', which is not a directory"));
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace mlcube
