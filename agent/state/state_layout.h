#ifndef MLCUBE_REMOTE_AGENT_STATE_STATE_LAYOUT_H_
#define MLCUBE_REMOTE_AGENT_STATE_STATE_LAYOUT_H_

// Every path under the agent's state directory, in one place:
//
//   STATE/blobs/                      content store (BlobStore)
//   STATE/uploads/OWNER/              partial uploads per identity
//   STATE/grants/OWNER.list           blobs each identity uploaded
//   STATE/task_users.list             pool uids given to identities ("cn-x 200000")
//   STATE/cubes/OWNER/CUBE/           a cube's tree (workspace included)
//   STATE/cubes/OWNER/.deleting-*     a cube being deleted
//   STATE/commits/OWNER/CUBE.commit   the last commit of a cube
//   STATE/jobs/ID/                    a job: job.pb, request.pb, log, plan, cancel,
//                                     step-N.{log,exit,pgid,lock,env}, tmp/,
//                                     Slurm steps: step-N.{sh,out,err,slurm},
//                                     scratch_storage/ (kept)
//   IMAGES/OWNER/                     SIF images per identity (IMAGES is
//                                     image_dir, default STATE/images)
//
// Pure string arithmetic: nothing is created or checked here. Owners, cube
// ids and job ids are validated before they reach it (request_validator).

#include <cstdint>
#include <string>

namespace mlcube {

class StateLayout {
 public:
  // `image_dir` as AgentConfig::EffectiveImageDir() says.
  StateLayout(std::string state_dir, std::string image_dir);

  const std::string& root() const { return root_; }

  std::string BlobsDir() const;
  std::string UploadsDir() const;
  std::string GrantsDir() const;
  // Pool uids assigned to certificate identities (TaskUserResolver).
  std::string TaskUsersFile() const;

  std::string CubesDir() const;
  std::string OwnerCubesDir(const std::string& owner) const;
  std::string CubeDir(const std::string& owner, const std::string& cube_id) const;
  // Where a cube's tree is moved before it is removed; `stamp` keeps names unique.
  std::string DeletingCubeDir(const std::string& owner, const std::string& cube_id,
                              int64_t stamp) const;
  static constexpr char kDeletingPrefix[] = ".deleting-";

  std::string CommitsDir() const;
  std::string OwnerCommitsDir(const std::string& owner) const;
  std::string CommitFile(const std::string& owner, const std::string& cube_id) const;
  static constexpr char kCommitSuffix[] = ".commit";

  std::string JobsDir() const;
  std::string JobDir(const std::string& job_id) const;
  std::string JobRecordFile(const std::string& job_id) const;   // job.pb
  std::string JobRequestFile(const std::string& job_id) const;  // request.pb
  std::string JobLogFile(const std::string& job_id) const;      // the JobLog
  std::string JobPlanFile(const std::string& job_id) const;
  std::string JobCancelFile(const std::string& job_id) const;
  // The prefix of a step's files (PREFIX.log, .exit, .pgid, .lock, .env).
  std::string JobStepPrefix(const std::string& job_id, int step) const;
  // Runtime scratch space of a job (removed when the job ends).
  std::string JobScratchDir(const std::string& job_id) const;
  // A Slurm job's /scratch_storage: kept after the job, for its results.
  std::string JobScratchStorageDir(const std::string& job_id) const;
  // The Slurm job array of a SubmitJobs batch (the batch id is its first
  // job's id): PREFIX.sh, PREFIX.slurm and Slurm's own output of each element.
  std::string BatchArrayPrefix(const std::string& batch_id) const;
  static constexpr char kStepPrefix[] = "step-";
  static constexpr char kEnvSuffix[] = ".env";

  std::string ImagesDir() const;
  std::string OwnerImagesDir(const std::string& owner) const;

 private:
  std::string root_;
  std::string images_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_STATE_STATE_LAYOUT_H_
