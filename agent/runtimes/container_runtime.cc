#include "agent/runtimes/container_runtime.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/runtimes/image_reference.h"
#include "common/digest.h"

namespace mlcube {

std::map<std::string, std::string> ProxyEnvironment() {
  std::map<std::string, std::string> env;
  for (const char* name : {"http_proxy", "https_proxy", "no_proxy", "ftp_proxy", "HTTP_PROXY",
                           "HTTPS_PROXY", "NO_PROXY", "FTP_PROXY"}) {
    if (const char* value = getenv(name)) env[name] = value;
  }
  return env;
}

absl::StatusOr<std::map<std::string, std::string>> CopiedCallerEnv(
    const std::vector<std::string>& copied, const std::string& key, const StepContext& context,
    std::vector<std::string>* shown_env) {
  std::map<std::string, std::string> env;
  for (const std::string& name : copied) {
    if (env.count(name) > 0) continue;
    auto value = context.caller_env.find(name);
    if (value != context.caller_env.end()) {
      env[name] = value->second;
      shown_env->push_back(absl::StrCat(name, "=<from your environment>"));
    } else if (context.caller_env_withheld.count(name) > 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          key, " copies ", name,
          " from your environment: the agent keeps such values in memory only and restarted "
          "before this task started; run the job again"));
    } else {
      shown_env->push_back(absl::StrCat(name, " (not set in your environment: left out)"));
    }
  }
  return env;
}

std::vector<std::string> SplitArgs(const std::string& text) {
  return absl::StrSplit(text, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
}

namespace {

std::string ShortHash(const std::string& text) { return DigestOf(text).hash().substr(0, 8); }

}  // namespace

std::string OwnerImageTag(const std::string& owner, const std::string& image) {
  // Repository component: lowercase alphanumerics and single dashes; the
  // hash keeps owners apart that differ only in case or punctuation.
  std::string repo;
  for (char c : absl::AsciiStrToLower(owner)) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      repo.push_back(c);
    } else if (!repo.empty() && repo.back() != '-') {
      repo.push_back('-');
    }
  }
  while (!repo.empty() && repo.back() == '-') repo.pop_back();
  if (repo != owner) absl::StrAppend(&repo, repo.empty() ? "" : "-", ShortHash(owner));
  // Tag: [A-Za-z0-9_.-], at most 128, readable prefix plus a hash of the
  // whole reference (so "a/b:c" and "a_b:c" stay apart).
  std::string tag;
  for (char c : image) {
    tag.push_back(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ? c
                                                                                             : '_');
    if (tag.size() == 100) break;
  }
  if (tag.empty() || tag[0] == '.' || tag[0] == '-') tag.insert(tag.begin(), '_');
  return absl::StrCat("mlcube-local/", repo, ":", tag, "-", ShortHash(image));
}

absl::Status CheckCubeImageName(const std::string& image, const char* key) {
  if (image.empty()) return absl::OkStatus();  // the runtime says when it needs one
  if (absl::Status s = CheckImageReference(image, key); !s.ok()) return s;
  if (absl::StartsWith(image, "mlcube-local/") || absl::StrContains(image, "/mlcube-local/")) {
    return absl::InvalidArgumentError(absl::StrCat(
        key, ": '", image,
        "': the mlcube-local/ namespace holds the agent's per-identity builds; name the image "
        "as the cube's recipe or registry does"));
  }
  return absl::OkStatus();
}

std::string ContainerName(const std::string& job_id, int step) {
  return absl::StrCat("mlcube-", job_id, "-", step);
}

}  // namespace mlcube
