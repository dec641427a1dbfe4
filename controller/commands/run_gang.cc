#include "controller/commands/run_gang.h"

#include <cstdio>
#include <memory>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/gang/gang_follower.h"
#include "controller/gang/gang_launcher.h"
#include "controller/gang/gang_plan.h"
#include "controller/gang/gang_record.h"
#include "controller/install/agent_connector.h"
#include "controller/terminal/exit_codes.h"

namespace mlcube {
namespace {

using mlcube_remote::v1::Runtime;

bool InContainerEngine(const RemoteRunRequest& request) {
  return request.submit.runtime() == mlcube_remote::v1::RUNTIME_DOCKER ||
         request.submit.runtime() == mlcube_remote::v1::RUNTIME_PODMAN;
}

// Docker and Podman tasks join their host's network, where the other ranks
// reach them (Apptainer tasks are there already).
void JoinHostNetwork(RemoteRunRequest* request) {
  if (!InContainerEngine(*request)) return;
  auto& overrides = *request->submit.mutable_overrides();
  overrides["docker.cpu_args"] = absl::StrCat(request->cube->docker.cpu_args, " --network=host");
  overrides["docker.gpu_args"] = absl::StrCat(request->cube->docker.gpu_args, " --network=host");
}

absl::Status CheckHosts(const std::vector<HostEntry>& hosts) {
  for (const HostEntry& host : hosts) {
    if (host.scheduler == "slurm") {
      return absl::InvalidArgumentError(absl::StrCat(
          "--nodes: ", host.name,
          " runs tasks through Slurm: ask Slurm for the nodes instead (-P slurm.nodes=N)"));
    }
  }
  return absl::OkStatus();
}

// A refusal of --network=host, with what the host's admin can do.
absl::Status WithNetworkHint(const absl::Status& status, const std::vector<GangMember>& members) {
  if (!absl::StrContains(status.message(), "host's network")) return status;
  std::vector<std::string> engines;
  for (const GangMember& member : members) {
    if (InContainerEngine(member.request)) engines.push_back(member.request.host_name);
  }
  return absl::Status(
      status.code(),
      absl::StrCat(status.message(),
                   "; the ranks of a job across hosts reach each other on the hosts' network: "
                   "the admins of ",
                   absl::StrJoin(engines, ", "),
                   " must allow it (allow: {host_network: true} in the agent's config)"));
}

absl::Status PushAll(std::vector<GangMember>& members, InterruptMonitor& interrupts,
                     const Console& console) {
  for (GangMember& member : members) {
    if (absl::Status s = CheckGpusOnHost(*member.agent, member.request); !s.ok()) return s;
    if (absl::Status s = PushForJob(*member.agent, member.request, interrupts, console); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

std::string RequestId() {
  std::random_device random;
  return absl::StrCat(random(), "-", random());
}

// Rank i's variables in its request; each request its own retry key.
void AssignRanks(std::vector<GangMember>& members, const GangRecord& record) {
  const int world = static_cast<int>(members.size());
  for (int rank = 0; rank < world; ++rank) {
    RemoteRunRequest& request = members[rank].request;
    for (const auto& [name, value] :
         RankEnvironment(rank, world, record.master_addr, record.master_port, record.id)) {
      (*request.submit.mutable_env())[name] = value;
    }
    request.submit.set_client_request_id(absl::StrCat(record.id, "-", rank, "-", RequestId()));
  }
}

void PullAll(const std::vector<GangMember>& members, const GangOutcome& outcome,
             InterruptMonitor& interrupts, const Console& console, int* exit_status) {
  for (size_t i = members.size(); i-- > 0;) {  // rank 0 last: its files win
    const GangMember& member = members[i];
    if (outcome.jobs[i].state() == mlcube_remote::v1::JOB_STATE_CANCELLED) continue;
    absl::Status pulled =
        PullOutputs(*member.agent, member.request, outcome.jobs[i], interrupts, console);
    if (!pulled.ok()) {
      console.Error(absl::StrCat("rank ", i, ": ", pulled.message()));
      if (*exit_status == kExitOk) *exit_status = kExitAgentError;
    }
  }
}

int Follow(std::vector<GangMember>& members, const GangRecord& record,
           const GangRunOptions& options, InterruptMonitor& interrupts, const Console& console) {
  absl::StatusOr<GangOutcome> outcome =
      FollowGang(members, options.ranks, /*follow=*/true, &interrupts, console);
  if (!outcome.ok()) {
    console.Error(outcome.status().message());
    return kExitAgentError;
  }
  if (outcome->interrupted) {
    if (options.cancel_on_interrupt) {
      CancelGang(members, -1, console);
      console.Info(absl::StrCat("cancelled every rank of ", record.id));
    } else {
      console.Info(absl::StrCat(record.id, " goes on; re-attach with: mlcube-remote logs -f ",
                                record.id, ", or end it with: mlcube-remote cancel ", record.id));
    }
    return kExitCancelled;
  }
  int exit_status = GangExitStatus(*outcome);
  if (!options.no_pull) PullAll(members, *outcome, interrupts, console, &exit_status);
  console.Info(absl::StrCat(
      record.id, ": ",
      exit_status == kExitOk ? "every rank succeeded"
      : outcome->failed_rank >= 0
          ? absl::StrCat("rank ", outcome->failed_rank, " failed (exit ", exit_status, ")")
          : absl::StrCat("failed (exit ", exit_status, ")")));
  return exit_status;
}

}  // namespace

int RunGang(const std::vector<HostEntry>& hosts, std::vector<RemoteRunRequest> requests,
            const GangRunOptions& options, InterruptMonitor& interrupts, const Console& console) {
  if (absl::Status s = CheckHosts(hosts); !s.ok()) {
    console.Error(s.message());
    return kExitBadInput;
  }
  GangRecord record;
  record.id = GangRecord::NewId();
  record.task = absl::StrJoin(requests.front().submit.tasks(), ",");
  absl::StatusOr<std::string> master = RendezvousAddressOf(hosts.front());
  if (!master.ok()) {
    console.Error(master.status().message());
    return kExitBadInput;
  }
  record.master_addr = *master;
  record.master_port = options.master_port > 0 ? options.master_port : DefaultMasterPort(record.id);
  std::vector<std::unique_ptr<AgentConnection>> connections;
  std::vector<GangMember> members;
  for (size_t rank = 0; rank < hosts.size(); ++rank) {
    absl::StatusOr<std::unique_ptr<AgentConnection>> connection = ConnectToAgent(hosts[rank]);
    if (!connection.ok()) {
      console.Error(absl::StrCat("rank ", rank, ": ", connection.status().message()));
      return kExitAgentError;
    }
    connections.push_back(std::move(*connection));
    members.push_back({connections.back().get(), std::move(requests[rank]), ""});
    JoinHostNetwork(&members.back().request);
  }
  if (absl::Status s = PushAll(members, interrupts, console); !s.ok()) {
    console.Error(s.message());
    return s.code() == absl::StatusCode::kFailedPrecondition ? kExitBadInput : kExitAgentError;
  }
  AssignRanks(members, record);
  console.Info(absl::StrCat(
      record.id, ": ", record.task, " as ", members.size(), " ranks on ",
      absl::StrJoin(hosts, ", ",
                    [](std::string* out, const HostEntry& host) { out->append(host.name); }),
      " (MASTER_ADDR=", record.master_addr, " MASTER_PORT=", record.master_port, ")"));
  if (absl::Status s = SubmitGang(members, console); !s.ok()) {
    console.Error(WithNetworkHint(s, members).message());
    return kExitAgentError;
  }
  // Before waiting: a controller that dies while the ranks start leaves a
  // job that `cancel` still knows.
  for (const GangMember& member : members) {
    record.ranks.push_back({member.request.host_name, member.job_id});
  }
  if (absl::Status s = record.Save(GangRecord::DefaultDir()); !s.ok()) {
    console.Warning(
        absl::StrCat("status, logs and cancel will not know ", record.id, ": ", s.message()));
  }
  if (absl::Status s = WaitGangStarted(members, options.start_timeout, interrupts, console);
      !s.ok()) {
    console.Error(s.message());
    return s.code() == absl::StatusCode::kCancelled ? kExitCancelled : kExitAgentError;
  }
  if (options.detach) {
    console.Info(
        absl::StrCat("every rank started; follow with: mlcube-remote logs -f ", record.id));
    std::printf("%s\n", record.id.c_str());
    return kExitOk;
  }
  return Follow(members, record, options, interrupts, console);
}

}  // namespace mlcube
