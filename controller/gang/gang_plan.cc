#include "controller/gang/gang_plan.h"

#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace mlcube {

absl::StatusOr<std::string> RendezvousAddressOf(const HostEntry& host) {
  if (!host.rendezvous_address.empty()) return host.rendezvous_address;
  if (host.has_ssh && !host.ssh.host.empty()) return host.ssh.host;
  absl::string_view address = host.address;
  if (address.empty() || absl::StartsWith(address, "unix:")) {
    return absl::FailedPreconditionError(absl::StrCat(
        "hosts.", host.name, ".rendezvous_address: set the address the other hosts' ranks reach ",
        host.name, " at (its agent's address is a unix socket)"));
  }
  address = absl::StripPrefix(address, "dns:///");
  if (absl::StartsWith(address, "[")) {  // [::1]:7443
    const size_t close = address.find(']');
    return std::string(address.substr(1, close == absl::string_view::npos ? 0 : close - 1));
  }
  return std::string(address.substr(0, address.rfind(':')));
}

int DefaultMasterPort(const std::string& gang_id) {
  uint32_t hash = 2166136261u;  // FNV-1a: stable across builds and machines
  for (unsigned char c : gang_id) hash = (hash ^ c) * 16777619u;
  return 29500 + static_cast<int>(hash % 20000);
}

std::map<std::string, std::string> RankEnvironment(int rank, int world_size,
                                                   const std::string& master_addr, int master_port,
                                                   const std::string& gang_id) {
  return {{"RANK", absl::StrCat(rank)},
          {"WORLD_SIZE", absl::StrCat(world_size)},
          {"NODE_RANK", absl::StrCat(rank)},
          {"LOCAL_RANK", "0"},
          {"LOCAL_WORLD_SIZE", "1"},
          {"MASTER_ADDR", master_addr},
          {"MASTER_PORT", absl::StrCat(master_port)},
          {"MLCUBE_GANG", gang_id}};
}

}  // namespace mlcube
