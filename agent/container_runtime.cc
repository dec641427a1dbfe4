#include "agent/container_runtime.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mlcube {

std::map<std::string, std::string> ProxyEnvironment() {
  std::map<std::string, std::string> env;
  for (const char* name : {"http_proxy", "https_proxy", "no_proxy", "ftp_proxy", "HTTP_PROXY",
                           "HTTPS_PROXY", "NO_PROXY", "FTP_PROXY"}) {
    if (const char* value = getenv(name)) env[name] = value;
  }
  return env;
}

std::vector<std::string> SplitArgs(const std::string& text) {
  return absl::StrSplit(text, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
}

std::string ContainerName(const std::string& job_id, int step) {
  return absl::StrCat("mlcube-", job_id, "-", step);
}

}  // namespace mlcube
