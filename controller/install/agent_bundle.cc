#include "controller/install/agent_bundle.h"

#include <stdlib.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/digest.h"

namespace mlcube {
namespace {

std::string OwnDirectory() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return "";
  std::string self(path, static_cast<size_t>(n));
  return self.substr(0, self.rfind('/'));
}

}  // namespace

std::string AgentBundleFileName(const std::string& arch) {
  return absl::StrCat("mlcube-agent-", MLCUBE_REMOTE_VERSION, "-linux-", arch, ".tar.gz");
}

absl::StatusOr<AgentBundle> FindAgentBundle(const std::string& arch,
                                            const AgentBundlePlaces& where) {
  const std::string name = AgentBundleFileName(arch);
  std::vector<std::string> places;
  if (std::string own = OwnDirectory(); !own.empty()) places.push_back(own);
  if (!where.env_dir.empty()) places.push_back(where.env_dir);
  if (!where.configured_dir.empty()) places.push_back(where.configured_dir);
  for (const std::string& dir : places) {
    const std::string path = absl::StrCat(dir, "/", name);
    if (access(path.c_str(), R_OK) != 0) continue;
    absl::StatusOr<v1Digest> digest = DigestOfFile(path);
    if (!digest.ok()) return digest.status();
    AgentBundle bundle;
    bundle.path = path;
    bundle.file_name = name;
    bundle.sha256 = digest->hash();
    bundle.size = digest->size_bytes();
    return bundle;
  }
  return absl::NotFoundError(absl::StrCat(
      "no agent bundle ", name, " in ", absl::StrJoin(places, ", "),
      " (looked beside mlcube-remote, in $MLCUBE_REMOTE_BUNDLE_DIR and the hosts file's "
      "agent_bundle_dir). Make it on a Linux ",
      arch,
      " machine with `tools/package-agent.sh build/agent/mlcube-agent DIR` and put it in "
      "one of those places"));
}

}  // namespace mlcube
