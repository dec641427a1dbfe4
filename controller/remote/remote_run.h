#ifndef MLCUBE_REMOTE_CONTROLLER_REMOTE_REMOTE_RUN_H_
#define MLCUBE_REMOTE_CONTROLLER_REMOTE_REMOTE_RUN_H_

// A cube's job on an agent, end to end: push (the cube, and its build
// context when that lies outside the cube) -> submit -> watch -> pull the
// job's outputs (the agent says which: Snapshot by job id). Or, for
// `run --dry-run`, push -> plan: the agent prints what it would run.
// Every function reports through the Console and returns the process exit
// status (controller/terminal/exit_codes.h).

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/cube.h"
#include "controller/terminal/console.h"
#include "controller/terminal/interrupt_monitor.h"
#include "controller/transport/agent_connection.h"
#include "mlcube_remote/v1/jobs.pb.h"

namespace mlcube {

struct RemoteRunRequest {
  const Cube* cube = nullptr;
  std::string host_name;
  // The hosts file's `exclude` patterns.
  std::vector<std::string> exclude;
  // Filled in by RunRemoteJob / PlanRemoteJob: cube_id, build_context_id,
  // client_request_id.
  mlcube_remote::v1::SubmitJobRequest submit;
  bool detach = false;
  bool cancel_on_interrupt = false;
  bool no_pull = false;
  std::set<int> ranks;  // print only these ranks' lines (RankFilter); empty: all
  bool json = false;    // dry run: one JSON object on stdout
  std::optional<std::string> sync_features;  // as CubePushRequest's
};

int RunRemoteJob(AgentConnection& agent, RemoteRunRequest request, InterruptMonitor& interrupts,
                 const Console& console);

// The steps of RunRemoteJob that a sweep (remote_sweep.h) shares:
// FAILED_PRECONDITION when the job asks for GPUs and the host has none.
absl::Status CheckGpusOnHost(AgentConnection& agent, const RemoteRunRequest& request);
// Pushes the cube (and its outside build context when a build may need it)
// and fills in request.submit's cube_id and build_context_id. Ctrl-C during
// the push exits at once.
absl::Status PushForJob(AgentConnection& agent, RemoteRunRequest& request,
                        InterruptMonitor& interrupts, const Console& console);
// Submits with retries on transient errors (the client_request_id makes a
// retry idempotent).
absl::StatusOr<mlcube_remote::v1::Job> SubmitWithRetry(
    AgentConnection& connection, const mlcube_remote::v1::SubmitJobRequest& request,
    const Console& console);
// The runs of a batch in one call (SubmitJobs), with the same retries; the
// jobs in run order. UNIMPLEMENTED from an agent that predates SubmitJobs.
absl::StatusOr<std::vector<mlcube_remote::v1::Job>> SubmitJobsWithRetry(
    AgentConnection& connection, const mlcube_remote::v1::SubmitJobsRequest& request,
    const Console& console);

// Where the job may write here: the outputs of the tasks this controller
// submits, as its own copy of the cube (loaded with the run's -P) names them.
std::vector<std::string> ExpectedOutputs(const RemoteRunRequest& request);
// The job's outputs, as the agent lists them for the job, placed only where
// ExpectedOutputs says; also after a failure (logs are outputs too).
absl::Status PullOutputs(AgentConnection& agent, const RemoteRunRequest& request,
                         const mlcube_remote::v1::Job& job, InterruptMonitor& interrupts,
                         const Console& console);

// Pushes the cube (nothing starts) and prints the agent's plan.
int PlanRemoteJob(AgentConnection& agent, RemoteRunRequest request, InterruptMonitor& interrupts,
                  const Console& console);

// The plan as `run --dry-run --json` prints it: {"cube_root": ..., "steps":
// [{"kind", "task" (null for configure), "argv", "creates"}]} plus
// "warnings", "cwd" where a step has its own working directory and, on a
// step that cannot be planned yet, "error". INTERNAL when it does not
// convert (a string that is not UTF-8).
absl::StatusOr<std::string> PlanToJson(const mlcube_remote::v1::JobPlan& plan);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_REMOTE_REMOTE_RUN_H_
