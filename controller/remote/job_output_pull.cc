#include "controller/remote/job_output_pull.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/cube_loader.h"
#include "common/grpc_status.h"
#include "controller/sweeps/sweep_record.h"
#include "controller/sync/job_outputs_record.h"
#include "controller/sync/scan_cache.h"
#include "controller/sync/sync_client.h"

namespace mlcube {

absl::StatusOr<std::vector<std::string>> JobOutputPaths(AgentConnection& agent, const Cube& cube,
                                                        const std::string& cube_id,
                                                        const std::string& job_id) {
  absl::StatusOr<std::vector<std::string>> recorded =
      JobOutputsRecord(JobOutputsRecord::DefaultDir()).Load(cube_id, job_id);
  if (recorded.ok()) return recorded;
  mlcube_remote::v1::GetJobRequest get;
  get.set_job_id(job_id);
  mlcube_remote::v1::Job job;
  auto rpc = AgentConnection::Context(std::chrono::seconds(30));
  grpc::Status status = agent.jobs().GetJob(rpc.get(), get, &job);
  if (!status.ok()) return FromGrpcStatus(status, absl::StrCat("job ", job_id));
  std::vector<std::string> outputs =
      WorkspaceOutputPaths(cube, std::vector<std::string>(job.tasks().begin(), job.tasks().end()));
  std::vector<std::string> unreadable;  // a record that does not load names no run
  for (const SweepRecord& sweep : SweepRecord::LoadAll(cube.workspace, &unreadable)) {
    for (const RunRecord& run : sweep.runs) {
      if (run.job_id != job_id) continue;
      for (const std::string& output : WorkspaceOutputPaths(cube, sweep.tasks)) {
        outputs.push_back(absl::StrCat(run.run_dir, "/", output));
      }
    }
  }
  return outputs;
}

absl::StatusOr<PullStats> PullJobOutputs(AgentConnection& agent, const Cube& cube,
                                         const std::string& job_id, PullOptions options) {
  options.cube_root = cube.root;
  options.workspace = cube.workspace;
  if (options.cube_id.empty()) options.cube_id = SyncClient::DefaultCubeId(cube.root);
  options.job_id = job_id;
  absl::StatusOr<std::vector<std::string>> outputs =
      JobOutputPaths(agent, cube, options.cube_id, job_id);
  if (!outputs.ok()) return outputs.status();
  options.outputs = *std::move(outputs);
  ScanCache cache = ScanCache::Load(ScanCache::DefaultFileFor(cube.root));
  SyncClient client(agent.channel(), &cache);
  return client.Pull(options);
}

}  // namespace mlcube
