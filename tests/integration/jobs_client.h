#ifndef MLCUBE_REMOTE_TESTS_INTEGRATION_JOBS_CLIENT_H_
#define MLCUBE_REMOTE_TESTS_INTEGRATION_JOBS_CLIENT_H_

// Test-side helpers around the Jobs service of a real agent.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mlcube_remote/v1/jobs.grpc.pb.h"
#include "tests/integration/agent_process.h"

namespace mlcube_test {

struct WatchResult {
  grpc::Status status;
  std::vector<mlcube_remote::v1::JobEvent> events;
  std::string out, err, agent;  // concatenated log data per stream
  std::vector<mlcube_remote::v1::StateChange> states;
  int64_t next_offset = 0;
};

// Watches from `from_offset`. With `until`, stops (cancelling the call) as
// soon as it returns true for the result so far.
WatchResult Watch(mlcube_remote::v1::Jobs::Stub& stub, const std::string& job_id,
                  int64_t from_offset, bool follow,
                  const std::function<bool(const WatchResult&)>& until = nullptr,
                  int timeout_s = 60);

// Follows the job's log from the start until its stdout contains `text`
// (or the watch ends).
WatchResult WatchUntilOutput(mlcube_remote::v1::Jobs::Stub& stub, const std::string& job_id,
                             const std::string& text);

// Copies examples/hello (with busybox placed by tools/prepare-examples.sh)
// to STATE/cubes/OWNER/CUBE_ID, owned by the agent's user.
bool PlaceHelloCube(const AgentProcess& agent, const std::string& owner,
                    const std::string& cube_id);

// True once no container of the job exists (`--rm` removal is
// asynchronous: waits up to 10 s). `ps` gets the last listing.
bool ContainersGone(const std::string& job_id, std::string* ps);

mlcube_remote::v1::SubmitJobRequest RunRequest(
    const std::string& cube_id, const std::string& task,
    mlcube_remote::v1::Runtime runtime = mlcube_remote::v1::RUNTIME_DOCKER);

// A real agent, as the unprivileged `mlcube` user, with examples/hello placed
// as cube "hello" of the caller: the fixture of the jobs and Apptainer tests.
class HelloCubeAgentTest : public ::testing::Test {
 protected:
  // Starts the agent and places the cube; call from SetUp after checking
  // the runtime the test needs.
  // `extra_args` go to `mlcube-agent serve`.
  void StartAgentWithHelloCube(const std::vector<std::string>& extra_args = {});

  mlcube_remote::v1::Job Submit(const mlcube_remote::v1::SubmitJobRequest& request);
  mlcube_remote::v1::Job Get(const std::string& id);
  std::string Workspace() const;

  const std::string owner_ = "uid-" + std::to_string(getuid());
  std::unique_ptr<AgentProcess> agent_;
  std::unique_ptr<mlcube_remote::v1::Jobs::Stub> stub_;
};

}  // namespace mlcube_test

#endif  // MLCUBE_REMOTE_TESTS_INTEGRATION_JOBS_CLIENT_H_
