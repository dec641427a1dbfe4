#include "common/safe_path.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace mlcube {

std::string NormalizePath(absl::string_view path) {
  const bool absolute = !path.empty() && path.front() == '/';
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!absolute) {
        parts.push_back(part);
      }
      continue;
    }
    parts.push_back(part);
  }
  std::string joined = absl::StrJoin(parts, "/");
  if (absolute) return absl::StrCat("/", joined);
  return joined.empty() ? "." : joined;
}

bool IsWithin(absl::string_view path, absl::string_view dir) {
  const std::string p = NormalizePath(path);
  const std::string d = NormalizePath(dir);
  if (p == d) return true;
  if (d == "/") return !p.empty() && p.front() == '/';
  return p.size() > d.size() && p.compare(0, d.size(), d) == 0 && p[d.size()] == '/';
}

absl::Status ValidateRelativePath(absl::string_view path) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("path '", PrintableExcerpt(path), "': ", why));
  };
  if (path.empty()) return invalid("is empty");
  if (static_cast<int64_t>(path.size()) > kMaxPathBytes) {
    return invalid(absl::StrCat("is longer than ", kMaxPathBytes, " bytes"));
  }
  if (path.find('\0') != absl::string_view::npos) return invalid("contains a NUL byte");
  if (path.front() == '/') return invalid("is absolute");
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty()) return invalid("has an empty component");
    if (part == ".") return invalid("has a '.' component");
    if (part == "..") return invalid("has a '..' component");
  }
  return absl::OkStatus();
}

std::string PrintableExcerpt(absl::string_view text, size_t max_bytes) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < max_bytes; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (text.size() > max_bytes) out += "...";
  return out;
}

absl::StatusOr<std::string> JoinConfined(absl::string_view base, absl::string_view relative) {
  if (absl::Status status = ValidateRelativePath(relative); !status.ok()) return status;
  std::string joined(base.data(), base.size());
  if (joined.empty() || joined.back() != '/') joined.push_back('/');
  joined.append(relative.data(), relative.size());
  return joined;
}

}  // namespace mlcube
