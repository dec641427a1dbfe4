#include "agent/runtimes/image_reference.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/safe_path.h"

namespace mlcube {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsHex(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// path-component: [a-z0-9]+ joined by ".", "_", "__" or one or more "-".
bool IsPathComponent(absl::string_view s) {
  if (s.empty() || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  for (size_t i = 0; i < s.size();) {
    if (IsLowerAlnum(s[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && !IsLowerAlnum(s[j])) ++j;
    const absl::string_view sep = s.substr(i, j - i);
    if (sep != "." && sep != "_" && sep != "__" && sep.find_first_not_of('-') != sep.npos) {
      return false;
    }
    i = j;
  }
  return true;
}

bool IsDomain(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != ':') {
      return false;
    }
  }
  return true;
}

bool IsTag(absl::string_view s) {
  if (s.empty() || s.size() > 128 || s[0] == '.' || s[0] == '-') return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

bool IsDigest(absl::string_view s) {
  const size_t colon = s.find(':');
  if (colon == s.npos) return false;
  const absl::string_view algorithm = s.substr(0, colon), hex = s.substr(colon + 1);
  return IsHex(hex) && ((algorithm == "sha256" && hex.size() == 64) ||
                        (algorithm == "sha384" && hex.size() == 96) ||
                        (algorithm == "sha512" && hex.size() == 128));
}

struct Parts {
  std::string name, tag, digest;
  bool has_tag = false, has_digest = false;
};

Parts Split(absl::string_view image) {
  Parts parts;
  const size_t at = image.find('@');
  if (at != image.npos) {
    parts.has_digest = true;
    parts.digest = std::string(image.substr(at + 1));
    image = image.substr(0, at);
  }
  const size_t colon = image.rfind(':');
  const size_t slash = image.rfind('/');
  if (colon != image.npos && (slash == image.npos || colon > slash)) {
    parts.has_tag = true;
    parts.tag = std::string(image.substr(colon + 1));
    image = image.substr(0, colon);
  }
  parts.name = std::string(image);
  return parts;
}

}  // namespace

absl::Status CheckImageReference(absl::string_view image, absl::string_view key) {
  auto refused = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": '", PrintableExcerpt(image), "' ", why,
                     "; name the image as a registry does: NAME[:TAG] or NAME@sha256:DIGEST"));
  };
  if (image.empty()) return refused("is empty");
  const Parts parts = Split(image);
  if (parts.has_digest && !IsDigest(parts.digest)) return refused("has a malformed digest");
  if (parts.has_tag && !IsTag(parts.tag)) return refused("has a malformed tag");
  if (parts.name.size() > 255) return refused("is longer than 255 characters");
  std::vector<std::string> components = absl::StrSplit(parts.name, '/');
  const bool has_domain =
      components.size() > 1 &&
      (components[0].find_first_of(".:") != std::string::npos || components[0] == "localhost" ||
       absl::AsciiStrToLower(components[0]) != components[0]);
  for (size_t i = 0; i < components.size(); ++i) {
    const bool ok = i == 0 && has_domain ? IsDomain(components[i]) : IsPathComponent(components[i]);
    if (!ok) return refused("is not an image name");
  }
  if (components.size() == 1) {
    const std::string& name = components[0];
    // Forms Docker resolves by local image ID, not by name.
    if (name.size() == 64 && IsHex(name)) return refused("is a local image ID");
    if ((name == "sha256" || name == "sha384" || name == "sha512") && parts.has_tag) {
      return refused("is a local image ID");
    }
    if (IsHex(name) && !parts.has_tag && !parts.has_digest) {
      return refused("looks like a local image ID");
    }
  }
  return absl::OkStatus();
}

std::string DockerHubQualified(absl::string_view image) {
  const size_t slash = image.find('/');
  if (slash != image.npos) {
    const absl::string_view first = image.substr(0, slash);
    if (first == "localhost" || first.find_first_of(".:") != first.npos) return std::string(image);
    return absl::StrCat("docker.io/", image);
  }
  return absl::StrCat("docker.io/library/", image);
}

}  // namespace mlcube
