#include "controller/ui/agent_pool.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "controller/install/agent_connector.h"

namespace mlcube {

AgentPool::AgentPool(HostsFile hosts) : hosts_(std::move(hosts)) {}

absl::StatusOr<std::shared_ptr<AgentConnection>> AgentPool::Get(const std::string& host) {
  auto entry = hosts_.hosts.find(host);
  if (entry == hosts_.hosts.end()) {
    return absl::NotFoundError(absl::StrCat(
        "host '", host, "' is not in ", hosts_.path.empty() ? "the built-in hosts" : hosts_.path));
  }
  std::shared_ptr<Slot> slot;
  {
    absl::MutexLock lock(&mutex_);
    std::shared_ptr<Slot>& found = slots_[host];
    if (!found) found = std::make_shared<Slot>();
    slot = found;
  }
  absl::MutexLock lock(&slot->mutex);
  if (slot->connection) return slot->connection;
  absl::StatusOr<std::unique_ptr<AgentConnection>> opened = ConnectToAgent(entry->second);
  if (!opened.ok()) return opened.status();
  slot->connection = std::move(*opened);
  return slot->connection;
}

}  // namespace mlcube
