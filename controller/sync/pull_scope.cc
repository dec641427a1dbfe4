#include "controller/sync/pull_scope.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/manifest_validator.h"
#include "common/safe_path.h"
#include "controller/sync/sync_options.h"

namespace mlcube {

namespace v1 = ::mlcube_remote::v1;

namespace {

bool HasControlCharacter(absl::string_view text) {
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

bool NamedLikeTemp(absl::string_view path) {
  const size_t slash = path.rfind('/');
  const absl::string_view name = slash == absl::string_view::npos ? path : path.substr(slash + 1);
  return absl::StartsWith(name, PullScope::kTempPrefix);
}

}  // namespace

PullScope PullScope::Below(std::vector<std::string> roots) {
  std::vector<std::string> valid;
  for (std::string& root : roots) {
    if (ValidateRelativePath(root).ok()) valid.push_back(std::move(root));
  }
  return PullScope(false, std::move(valid));
}

PullScope PullScope::For(const PullOptions& options) {
  if (options.paths.empty() && options.outputs.empty() && options.job_id.empty()) {
    return Everything();
  }
  std::vector<std::string> roots = options.paths;
  roots.insert(roots.end(), options.outputs.begin(), options.outputs.end());
  return Below(std::move(roots));
}

bool PullScope::Contains(const std::string& path) const {
  if (everything_) return true;
  for (const std::string& root : roots_) {
    if (path == root) return true;
    if (path.size() > root.size() && path[root.size()] == '/' && absl::StartsWith(path, root)) {
      return true;
    }
  }
  return false;
}

std::string PullScope::Refusal(const v1::ManifestEntry& entry) const {
  if (absl::Status valid = ManifestValidator::ValidateEntry(entry); !valid.ok()) {
    return std::string(valid.message());
  }
  if (HasControlCharacter(entry.path())) return "a control character in its name";
  if (entry.type() == v1::ENTRY_TYPE_SYMLINK && HasControlCharacter(entry.symlink_target())) {
    return "a control character in its target";
  }
  if (NamedLikeTemp(entry.path())) return "named like a pull's temp file";
  if (!Contains(entry.path())) return "not a path this pull asked for";
  return "";
}

v1::Manifest PullScope::Filter(v1::Manifest* manifest, Dropped* dropped) const {
  v1::Manifest kept;
  for (v1::ManifestEntry& entry : *manifest->mutable_entries()) {
    const std::string why = Refusal(entry);
    if (why.empty()) {
      *kept.add_entries() = std::move(entry);
      continue;
    }
    dropped->Note(entry.path(), why);
  }
  manifest->Clear();
  return kept;
}

void PullScope::Dropped::Note(absl::string_view path, absl::string_view why) {
  ++count;
  if (first.size() < kNamed) {
    first.push_back(
        absl::StrCat("'", PrintableExcerpt(path, 120), "' (", PrintableExcerpt(why, 200), ")"));
  }
}

std::string PullScope::Dropped::Warning(absl::string_view lead) const {
  if (count == 0) return "";
  const int64_t more = count - static_cast<int64_t>(first.size());
  return absl::StrCat(lead, " ", count, count == 1 ? " entry" : " entries", ": ",
                      absl::StrJoin(first, ", "),
                      more > 0 ? absl::StrCat(" and ", more, " more") : "");
}

}  // namespace mlcube
