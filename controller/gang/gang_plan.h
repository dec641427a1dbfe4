#ifndef MLCUBE_REMOTE_CONTROLLER_GANG_GANG_PLAN_H_
#define MLCUBE_REMOTE_CONTROLLER_GANG_GANG_PLAN_H_

// How the ranks of a job across hosts find each other. Rank i runs on the
// i-th host and gets the variables torch.distributed, Lightning,
// Accelerate and DeepSpeed read: RANK=i, WORLD_SIZE=N, NODE_RANK=i,
// LOCAL_RANK=0, LOCAL_WORLD_SIZE=1, MASTER_ADDR (rank 0's host as the
// others reach it) and MASTER_PORT, plus MLCUBE_GANG (the job's id).

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "controller/hosts/hosts_file.h"

namespace mlcube {

// The host's rendezvous_address, else the host part of its address (or of
// ssh.host). FAILED_PRECONDITION naming hosts.NAME.rendezvous_address for a
// unix-socket host without one.
absl::StatusOr<std::string> RendezvousAddressOf(const HostEntry& host);

// 29500 + (a hash of the job's id) mod 20000: two jobs across the same hosts
// rarely meet on one port. `run --master-port` chooses it instead.
int DefaultMasterPort(const std::string& gang_id);

std::map<std::string, std::string> RankEnvironment(int rank, int world_size,
                                                   const std::string& master_addr, int master_port,
                                                   const std::string& gang_id);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_GANG_GANG_PLAN_H_
