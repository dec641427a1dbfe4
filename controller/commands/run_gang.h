#ifndef MLCUBE_REMOTE_CONTROLLER_COMMANDS_RUN_GANG_H_
#define MLCUBE_REMOTE_CONTROLLER_COMMANDS_RUN_GANG_H_

// `run --nodes=N --host=H1,H2,...`: one task as one job across N hosts of
// the hosts file, rank i on the i-th host (controller/gang). The cube is
// pushed to each, every rank starts or none does, the ranks' output is
// merged with "[rank N]" prefixes, the first rank to fail cancels the
// others and gives the job its exit code, each host's outputs come back
// (rank 0's last, so its files win), and `status`, `logs`, `cancel` take
// the job's id (gang-XXXXXXXX).
//
// The ranks must reach each other: Apptainer tasks share their host's
// network; Docker and Podman tasks get --network=host, which the hosts'
// agents must allow (allow.host_network), else the error says so.

#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "controller/hosts/hosts_file.h"
#include "controller/remote/remote_run.h"
#include "controller/terminal/console.h"
#include "controller/terminal/interrupt_monitor.h"

namespace mlcube {

struct GangRunOptions {
  int master_port = 0;  // 0: DefaultMasterPort
  absl::Duration start_timeout = absl::Minutes(10);
  bool detach = false;
  bool cancel_on_interrupt = false;
  bool no_pull = false;
  std::set<int> ranks;
};

// `hosts[i]` and `requests[i]` for rank i (one per rank).
int RunGang(const std::vector<HostEntry>& hosts, std::vector<RemoteRunRequest> requests,
            const GangRunOptions& options, InterruptMonitor& interrupts, const Console& console);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_COMMANDS_RUN_GANG_H_
