#include "common/config_interpolator.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/safe_path.h"
#include "common/yaml_reader.h"

namespace mlcube {
namespace {

constexpr int kMaxDepth = 64;

std::string ChildPath(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : absl::StrCat(parent, ".", key);
}

bool IsIndex(const std::string& part, size_t* index) {
  if (part.empty() || part.size() > 9) return false;
  for (char c : part) {
    if (c < '0' || c > '9') return false;
  }
  *index = static_cast<size_t>(std::stoul(part));
  return true;
}

}  // namespace

ConfigInterpolator::ConfigInterpolator(std::string file_name, EnvLookup env)
    : file_name_(std::move(file_name)), env_(std::move(env)) {}

ConfigInterpolator::EnvLookup ConfigInterpolator::ProcessEnvironment() {
  return [](const std::string& name, std::string* value) {
    const char* found = std::getenv(name.c_str());
    if (found == nullptr) return false;
    *value = found;
    return true;
  };
}

absl::Status ConfigInterpolator::Error(const std::string& key_path, const std::string& what) const {
  return absl::InvalidArgumentError(absl::StrCat(file_name_, ": ", key_path, ": ", what));
}

absl::Status ConfigInterpolator::ResolveAll(YAML::Node root) {
  root_ = root;
  resolved_.clear();
  in_progress_.clear();
  total_bytes_ = 0;
  return Visit(root_, "");
}

absl::Status ConfigInterpolator::Visit(YAML::Node node, const std::string& key_path) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (!it->first.IsScalar()) return Error(key_path, "mapping keys must be scalars");
        absl::Status status = Visit(it->second, ChildPath(key_path, it->first.Scalar()));
        if (!status.ok()) return status;
      }
      return absl::OkStatus();
    case YAML::NodeType::Sequence:
      for (size_t i = 0; i < node.size(); ++i) {
        absl::Status status = Visit(node[i], ChildPath(key_path, std::to_string(i)));
        if (!status.ok()) return status;
      }
      return absl::OkStatus();
    case YAML::NodeType::Scalar: {
      if (node.Scalar().find('$') == std::string::npos) return absl::OkStatus();
      absl::StatusOr<std::string> value = ResolveScalar(key_path, node.Scalar());
      if (!value.ok()) return value.status();
      if (*value != node.Scalar()) node = *value;
      return absl::OkStatus();
    }
    default:
      return absl::OkStatus();
  }
}

absl::StatusOr<std::string> ConfigInterpolator::ResolveScalar(const std::string& key_path,
                                                              const std::string& raw) {
  auto done = resolved_.find(key_path);
  if (done != resolved_.end()) return done->second;
  if (std::find(in_progress_.begin(), in_progress_.end(), key_path) != in_progress_.end()) {
    std::vector<std::string> chain(std::find(in_progress_.begin(), in_progress_.end(), key_path),
                                   in_progress_.end());
    chain.push_back(key_path);
    return Error(key_path, absl::StrCat("interpolation cycle: ", absl::StrJoin(chain, " -> ")));
  }
  if (in_progress_.size() >= kMaxDepth) {
    return Error(key_path, "interpolation nested too deeply");
  }
  in_progress_.push_back(key_path);
  std::string out;
  size_t pos = 0;
  absl::Status failure;
  while (pos < raw.size()) {
    if (raw.compare(pos, 3, "\\${") == 0) {
      out += "${";
      pos += 3;
      continue;
    }
    if (raw.compare(pos, 2, "${") != 0) {
      out += raw[pos++];
      continue;
    }
    const size_t close = raw.find('}', pos + 2);
    if (close == std::string::npos) {
      failure = Error(key_path,
                      absl::StrCat("unterminated interpolation in '", PrintableExcerpt(raw), "'"));
      break;
    }
    absl::StatusOr<std::string> value =
        ResolveReference(key_path, raw.substr(pos + 2, close - pos - 2));
    if (!value.ok()) {
      failure = value.status();
      break;
    }
    if (out.size() + value->size() > kMaxValueBytes) {
      failure = Error(key_path,
                      absl::StrCat("interpolated value is longer than ", kMaxValueBytes, " bytes"));
      break;
    }
    out += *value;
    pos = close + 1;
  }
  if (failure.ok() && total_bytes_ + out.size() > kMaxTotalBytes) {
    failure = Error(key_path,
                    absl::StrCat("interpolated values together pass ", kMaxTotalBytes, " bytes"));
  }
  in_progress_.pop_back();
  if (!failure.ok()) return failure;
  total_bytes_ += out.size();
  resolved_[key_path] = out;
  return out;
}

absl::StatusOr<std::string> ConfigInterpolator::ResolveReference(const std::string& from_key_path,
                                                                 const std::string& reference) {
  const std::string ref(absl::StripAsciiWhitespace(reference));
  if (absl::StartsWith(ref, "oc.env:")) {
    const std::string spec = ref.substr(7);
    const size_t comma = spec.find(',');
    const std::string name(absl::StripAsciiWhitespace(spec.substr(0, comma)));
    if (name.empty()) return Error(from_key_path, "${oc.env:} needs a variable name");
    std::string value;
    if (env_ && env_(name, &value)) return value;
    if (comma != std::string::npos) {
      return std::string(absl::StripAsciiWhitespace(spec.substr(comma + 1)));
    }
    return Error(from_key_path,
                 absl::StrCat("environment variable '", name, "' is not set (write ${oc.env:", name,
                              ",DEFAULT} for a default)"));
  }
  if (ref.empty()) return Error(from_key_path, "empty interpolation '${}'");
  if (ref.find(':') != std::string::npos) {
    return Error(from_key_path, absl::StrCat("unknown resolver in '${", ref, "}'"));
  }
  const YAML::Node& const_root = root_;
  if (ref == "workspace" && !const_root["workspace"]) {
    return ResolveKeyPath(from_key_path, "runtime.workspace");
  }
  return ResolveKeyPath(from_key_path, ref);
}

absl::StatusOr<std::string> ConfigInterpolator::ResolveKeyPath(const std::string& from_key_path,
                                                               const std::string& target) {
  YAML::Node node = root_;
  std::string canonical;
  const std::vector<std::string> parts = absl::StrSplit(target, '.');
  for (const std::string& part : parts) {
    // Lookups go through a const handle: yaml-cpp's non-const operator[]
    // would insert the missing key into the tree.
    auto child = [&part](const YAML::Node& current) -> YAML::Node {
      size_t index = 0;
      if (current.IsMap()) return current[part];
      if (current.IsSequence() && IsIndex(part, &index) && index < current.size()) {
        return current[index];
      }
      return YAML::Node(YAML::NodeType::Undefined);
    };
    YAML::Node next = child(node);
    if (!next.IsDefined() || next.IsNull()) {
      return Error(from_key_path, absl::StrCat("unknown interpolation key '", target, "'"));
    }
    node.reset(next);
    canonical = ChildPath(canonical, part);
  }
  if (!node.IsScalar()) {
    return Error(from_key_path, absl::StrCat("interpolation key '", target, "' is ",
                                             DescribeNodeKind(node), ", not a value"));
  }
  absl::StatusOr<std::string> value = ResolveScalar(canonical, node.Scalar());
  if (!value.ok()) return value.status();
  if (*value != node.Scalar()) node = *value;
  return value;
}

}  // namespace mlcube
