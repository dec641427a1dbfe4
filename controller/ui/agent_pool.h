#ifndef MLCUBE_REMOTE_CONTROLLER_UI_AGENT_POOL_H_
#define MLCUBE_REMOTE_CONTROLLER_UI_AGENT_POOL_H_

// One connection per host of the hosts file, opened when first needed and
// shared by every request of the dashboard (an SSH host costs one session,
// not one per page load). A host whose connection could not be opened is
// tried again on the next request. Thread-safe; opening one host's
// connection does not hold back requests for other hosts.

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "controller/hosts/hosts_file.h"
#include "controller/transport/agent_connection.h"

namespace mlcube {

class AgentPool {
 public:
  explicit AgentPool(HostsFile hosts);

  const HostsFile& hosts() const { return hosts_; }

  // The connection to `host`; NOT_FOUND (naming the hosts file) for a name
  // that is not in it, or why the connection could not be opened.
  absl::StatusOr<std::shared_ptr<AgentConnection>> Get(const std::string& host);

 private:
  struct Slot {
    absl::Mutex mutex;
    std::shared_ptr<AgentConnection> connection ABSL_GUARDED_BY(mutex);
  };

  const HostsFile hosts_;
  absl::Mutex mutex_;
  std::map<std::string, std::shared_ptr<Slot>> slots_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_UI_AGENT_POOL_H_
