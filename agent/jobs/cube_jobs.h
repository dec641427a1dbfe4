#ifndef MLCUBE_REMOTE_AGENT_JOBS_CUBE_JOBS_H_
#define MLCUBE_REMOTE_AGENT_JOBS_CUBE_JOBS_H_

// The two questions the workspaces ask about jobs, and the one thing jobs
// tell the workspaces: the whole coupling between the two halves of the
// agent, wired once in main.cc.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mlcube {

// Answered by the job manager, asked by the workspaces service.
class CubeJobs {
 public:
  virtual ~CubeJobs() = default;

  // What Snapshot(job_id) pulls: the job's cube and its tasks' output paths
  // relative to the workspace, as the job ran them (its -P overrides and
  // host settings applied). NOT_FOUND for another identity's job.
  struct Outputs {
    std::string cube_id;
    std::vector<std::string> paths;
  };
  virtual absl::StatusOr<Outputs> OutputsOf(const std::string& owner,
                                            const std::string& job_id) = 0;

  // The owner's unfinished jobs of a cube (DeleteCube refuses while any).
  virtual std::vector<std::string> UnfinishedJobsOf(const std::string& owner,
                                                    const std::string& cube_id) = 0;

  // What the owner's job records and logs occupy on disk (part of its
  // stored bytes).
  virtual int64_t JobBytesOf(const std::string& owner) = 0;
};

// Told by the job manager, implemented by the workspaces service.
class WorkspaceUseRecorder {
 public:
  virtual ~WorkspaceUseRecorder() = default;
  // A job is about to work in the cube's workspace (it may change inputs):
  // the next push must commit again even when the laptop changed nothing.
  virtual void MarkWorkspaceUsed(const std::string& owner, const std::string& cube_id) = 0;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_JOBS_CUBE_JOBS_H_
