#include "tests/integration/jobs_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace mlcube_test {

using mlcube_remote::v1::JobEvent;

WatchResult Watch(mlcube_remote::v1::Jobs::Stub& stub, const std::string& job_id,
                  int64_t from_offset, bool follow,
                  const std::function<bool(const WatchResult&)>& until, int timeout_s) {
  WatchResult result;
  result.next_offset = from_offset;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_s));
  mlcube_remote::v1::WatchJobRequest request;
  request.set_job_id(job_id);
  request.set_from_offset(from_offset);
  request.set_follow(follow);
  auto reader = stub.WatchJob(&ctx, request);
  JobEvent event;
  bool stopped = false;
  while (reader->Read(&event)) {
    EXPECT_EQ(event.offset(), result.next_offset) << "events must be contiguous";
    result.next_offset = event.next_offset();
    if (event.has_log()) {
      switch (event.log().stream()) {
        case mlcube_remote::v1::LOG_STREAM_STDOUT:
          result.out += event.log().data();
          break;
        case mlcube_remote::v1::LOG_STREAM_STDERR:
          result.err += event.log().data();
          break;
        default:
          result.agent += event.log().data();
      }
    } else if (event.has_state()) {
      result.states.push_back(event.state());
    }
    result.events.push_back(event);
    if (until && until(result)) {
      stopped = true;
      ctx.TryCancel();
      break;
    }
  }
  result.status = reader->Finish();
  if (stopped) result.status = grpc::Status::OK;
  return result;
}

WatchResult WatchUntilOutput(mlcube_remote::v1::Jobs::Stub& stub, const std::string& job_id,
                             const std::string& text) {
  return Watch(stub, job_id, 0, true,
               [&text](const WatchResult& r) { return r.out.find(text) != std::string::npos; });
}

bool PlaceHelloCube(const AgentProcess& agent, const std::string& owner,
                    const std::string& cube_id) {
  std::string out;
  if (Shell(std::string(MLCUBE_SOURCE_DIR) + "/tools/prepare-examples.sh", &out) != 0) {
    ADD_FAILURE() << "tools/prepare-examples.sh failed: " << out;
    return false;
  }
  const std::string dir = agent.state_dir() + "/cubes/" + owner;
  const std::string cmd = "mkdir -p '" + dir + "' && rm -rf '" + dir + "/" + cube_id +
                          "' && cp -a " + MLCUBE_SOURCE_DIR + "/examples/hello '" + dir + "/" +
                          cube_id + "' && rm -rf '" + dir + "/" + cube_id +
                          "/workspace/greetings' && chown -R " + std::to_string(agent.uid()) + ":" +
                          std::to_string(agent.gid()) + " '" + agent.state_dir() + "/cubes'";
  if (Shell(cmd, &out) != 0) {
    ADD_FAILURE() << cmd << ": " << out;
    return false;
  }
  return true;
}

bool ContainersGone(const std::string& job_id, std::string* ps) {
  for (int i = 0; i < 100; ++i) {
    Shell("docker ps -a --format '{{.Names}}'", ps);
    if (ps->find("mlcube-" + job_id) == std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

mlcube_remote::v1::SubmitJobRequest RunRequest(const std::string& cube_id, const std::string& task,
                                               mlcube_remote::v1::Runtime runtime) {
  mlcube_remote::v1::SubmitJobRequest request;
  request.set_cube_id(cube_id);
  request.set_action(mlcube_remote::v1::JOB_ACTION_RUN);
  request.add_tasks(task);
  request.set_runtime(runtime);
  return request;
}

void HelloCubeAgentTest::StartAgentWithHelloCube(const std::vector<std::string>& extra_args) {
  AgentProcessOptions options;
  options.user = "mlcube";
  options.extra_args = extra_args;
  agent_ = std::make_unique<AgentProcess>(options);
  ASSERT_TRUE(agent_->Start());
  ASSERT_TRUE(PlaceHelloCube(*agent_, owner_, "hello"));
  stub_ = mlcube_remote::v1::Jobs::NewStub(agent_->Channel());
}

mlcube_remote::v1::Job HelloCubeAgentTest::Submit(
    const mlcube_remote::v1::SubmitJobRequest& request) {
  grpc::ClientContext ctx;
  mlcube_remote::v1::Job job;
  grpc::Status s = stub_->SubmitJob(&ctx, request, &job);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return job;
}

mlcube_remote::v1::Job HelloCubeAgentTest::Get(const std::string& id) {
  grpc::ClientContext ctx;
  mlcube_remote::v1::GetJobRequest request;
  request.set_job_id(id);
  mlcube_remote::v1::Job job;
  grpc::Status s = stub_->GetJob(&ctx, request, &job);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return job;
}

std::string HelloCubeAgentTest::Workspace() const {
  return agent_->state_dir() + "/cubes/" + owner_ + "/hello/workspace";
}

}  // namespace mlcube_test
