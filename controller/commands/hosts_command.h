#ifndef MLCUBE_REMOTE_CONTROLLER_COMMANDS_HOSTS_COMMAND_H_
#define MLCUBE_REMOTE_CONTROLLER_COMMANDS_HOSTS_COMMAND_H_

#include <ostream>
#include <string>

#include "controller/hosts/hosts_file.h"
#include "controller/terminal/console.h"

namespace mlcube {

// `mlcube-remote hosts`: every host of the hosts file with reachability,
// agent version, runtimes, GPUs, free disk and round-trip time. Hosts are
// asked in parallel so one dead host costs one timeout, not one each.
// Exit status 0 when every host answered, kExitAgentError otherwise.
int RunHostsCommand(const HostsLookup& hosts_lookup, const Console& console, std::ostream& out);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_COMMANDS_HOSTS_COMMAND_H_
