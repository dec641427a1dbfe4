// Jobs against a real agent (running as the unprivileged user `mlcube`) and
// the real Docker engine, with the offline hello cube (busybox FROM scratch).

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>

#include "agent/runtimes/container_runtime.h"
#include "mlcube_remote/v1/agent.grpc.pb.h"
#include "mlcube_remote/v1/jobs.grpc.pb.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/jobs_client.h"
#include "tests/support/hello_cube.h"
#include "tests/support/temp_dir.h"

namespace mlcube_test {
namespace {

using mlcube_remote::v1::Job;
using mlcube_remote::v1::Jobs;
using mlcube_remote::v1::SubmitJobRequest;

const std::string kOwner = "uid-" + std::to_string(getuid());

class AgentJobsTest : public HelloCubeAgentTest {
 protected:
  void SetUp() override {
    std::string out;
    ASSERT_EQ(Shell("docker info", &out), 0)
        << "the Docker engine is not running; start it as root with tools/start-docker.sh";
    // Podman configured at a path where it is not, whatever this machine
    // has installed: the missing-runtime answer is tested on it.
    ASSERT_EQ(chmod(config_dir_.path().c_str(), 0755), 0);
    config_dir_.WriteFile("agent.yaml", "runtimes:\n  podman: {enabled: true, binary: " +
                                            config_dir_.path() + "/no-such-podman}\n");
    StartAgentWithHelloCube({"--config=" + config_dir_.path() + "/agent.yaml"});
  }

  grpc::Status SubmitStatus(const SubmitJobRequest& request) {
    grpc::ClientContext ctx;
    Job job;
    return stub_->SubmitJob(&ctx, request, &job);
  }

  ::mlcube::testing::TempDir config_dir_;
};

TEST_F(AgentJobsTest, RunWithoutImageConfiguresFirstStreamsOutputAndWritesWorkspace) {
  // An image name of this test only: removing the shared mlcube/hello:0.1
  // would disturb other tests running on this machine.
  const std::string image = "mlcube/hello-configure-test:" + std::to_string(getpid());
  // Built under the submitter's own tag (builds are private to an identity).
  const std::string tag = ::mlcube::OwnerImageTag(kOwner, image);
  Shell("docker rmi -f " + tag);
  SubmitJobRequest request = RunRequest("hello", "greet");
  (*request.mutable_overrides())["docker.image"] = image;
  (*request.mutable_env())["GREET_DELAY"] = "0.05";
  Job job = Submit(request);
  ASSERT_EQ(job.id().size(), 8u);
  EXPECT_EQ(job.owner(), kOwner);
  WatchResult watch = Watch(*stub_, job.id(), 0, /*follow=*/true);
  ASSERT_TRUE(watch.status.ok()) << watch.status.error_message();
  // It built the image first, and the build's output is in the log, before
  // the task's.
  EXPECT_NE(watch.agent.find("docker build"), std::string::npos) << watch.agent;
  const std::string greet =
      "Hello, Alice!\nHello, Bob!\nHello, Charlie!\ngreet: wrote 3 greetings to /mlcube_io1\n";
  ASSERT_GE(watch.out.size(), greet.size());
  EXPECT_EQ(watch.out.substr(watch.out.size() - greet.size()), greet);
  EXPECT_NE(watch.out.find("Successfully tagged " + tag), std::string::npos) << watch.out;
  EXPECT_NE(Shell("docker image inspect " + image + " >/dev/null 2>&1"), 0)
      << "the shared name must stay untouched";
  std::vector<mlcube_remote::v1::JobState> states;
  for (const auto& s : watch.states) states.push_back(s.state());
  ASSERT_GE(states.size(), 4u);
  EXPECT_EQ(states.front(), mlcube_remote::v1::JOB_STATE_QUEUED);
  EXPECT_NE(std::find(states.begin(), states.end(), mlcube_remote::v1::JOB_STATE_PREPARING),
            states.end());
  EXPECT_EQ(states.back(), mlcube_remote::v1::JOB_STATE_SUCCEEDED);
  bool saw_running_greet = false;
  for (const auto& s : watch.states) {
    saw_running_greet |=
        s.state() == mlcube_remote::v1::JOB_STATE_RUNNING && s.current_task() == "greet";
  }
  EXPECT_TRUE(saw_running_greet);

  EXPECT_EQ(::mlcube::testing::ReadFileContent(Workspace() + "/greetings/Bob.txt"),
            "Hello, Bob!\n");
  EXPECT_EQ(::mlcube::testing::ReadFileContent(Workspace() + "/greetings/summary.txt"),
            "greeted 3 names\n");
  struct stat st {};
  ASSERT_EQ(stat((Workspace() + "/greetings/summary.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, agent_->uid()) << "outputs must belong to the agent's user, not root";

  Job done = Get(job.id());
  EXPECT_EQ(done.state(), mlcube_remote::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(done.exit_code(), 0);
  EXPECT_EQ(done.log_end_offset(), watch.next_offset);
  EXPECT_GT(done.finished_unix_ms(), 0);
  Shell("docker rmi -f " + tag);
}

// A task can leave a symlink in its workspace; an output directory below it
// is not created through it: the job fails naming the link, and nothing
// appears where it points.
TEST_F(AgentJobsTest, OutputDirectoryUnderAPlantedSymlinkFailsTheJobCreatingNothingOutside) {
  ::mlcube::testing::TempDir target;  // the agent's user could write here
  ASSERT_EQ(chown(target.path().c_str(), agent_->uid(), agent_->gid()), 0);
  const std::string link = Workspace() + "/evil";
  ASSERT_EQ(symlink(target.path().c_str(), link.c_str()), 0);
  ASSERT_EQ(lchown(link.c_str(), agent_->uid(), agent_->gid()), 0);
  ASSERT_EQ(
      Shell("sed -i 's|default: greetings/|default: evil/x/|' " + Workspace() + "/../mlcube.yaml"),
      0);
  Job job = Submit(RunRequest("hello", "greet"));
  WatchResult watch = Watch(*stub_, job.id(), 0, true);
  ASSERT_TRUE(watch.status.ok()) << watch.status.error_message();
  Job done = Get(job.id());
  EXPECT_EQ(done.state(), mlcube_remote::v1::JOB_STATE_FAILED);
  EXPECT_NE(done.reason().find("'evil'"), std::string::npos) << done.reason();
  EXPECT_NE(done.reason().find("symbolic link"), std::string::npos) << done.reason();
  struct stat st;
  EXPECT_NE(lstat((target.path() + "/x").c_str(), &st), 0) << "created through the link";
}

TEST_F(AgentJobsTest, FailingTaskPassesItsExitCodeThrough) {
  Job job = Submit(RunRequest("hello", "fail"));
  WatchResult watch = Watch(*stub_, job.id(), 0, true);
  ASSERT_TRUE(watch.status.ok()) << watch.status.error_message();
  EXPECT_NE(watch.err.find("fail: this task fails on purpose"), std::string::npos) << watch.err;
  Job done = Get(job.id());
  EXPECT_EQ(done.state(), mlcube_remote::v1::JOB_STATE_FAILED);
  EXPECT_EQ(done.exit_code(), 7);
  EXPECT_NE(done.reason().find("exited with code 7"), std::string::npos) << done.reason();
  ASSERT_FALSE(watch.states.empty());
  EXPECT_EQ(watch.states.back().exit_code(), 7);
}

TEST_F(AgentJobsTest, FollowingWatchGetsLiveLinesAndCancelKillsTheContainer) {
  SubmitJobRequest request = RunRequest("hello", "count");
  (*request.mutable_env())["API_TOKEN"] = "s3cr3t-" + std::to_string(getpid());
  Job job = Submit(request);
  WatchResult first = WatchUntilOutput(*stub_, job.id(), "tick 2\n");
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  // Env values never appear on a command line (which every user can read).
  std::string all_args;
  Shell("ps -eo args", &all_args);
  EXPECT_EQ(all_args.find(request.env().at("API_TOKEN")), std::string::npos);
  // The lines arrived while the task was still running.
  EXPECT_EQ(Get(job.id()).state(), mlcube_remote::v1::JOB_STATE_RUNNING);
  std::string ps;
  Shell("docker ps --format '{{.Names}}'", &ps);
  EXPECT_NE(ps.find("mlcube-" + job.id()), std::string::npos) << ps;

  grpc::ClientContext ctx;
  mlcube_remote::v1::CancelJobRequest cancel;
  cancel.set_job_id(job.id());
  Job cancelled;
  ASSERT_TRUE(stub_->CancelJob(&ctx, cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.state(), mlcube_remote::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(cancelled.reason(), "cancelled by " + kOwner);
  EXPECT_TRUE(ContainersGone(job.id(), &ps)) << "container still there: " << ps;
  // The watch of a cancelled job ends with the CANCELLED state.
  WatchResult rest = Watch(*stub_, job.id(), first.next_offset, true);
  ASSERT_TRUE(rest.status.ok());
  ASSERT_FALSE(rest.states.empty());
  EXPECT_EQ(rest.states.back().state(), mlcube_remote::v1::JOB_STATE_CANCELLED);
}

TEST_F(AgentJobsTest, WatchResumesAtAnyEventWithNothingLostOrRepeated) {
  SubmitJobRequest request = RunRequest("hello", "greet");
  (*request.mutable_env())["GREET_DELAY"] = "0.01";
  Job job = Submit(request);
  WatchResult full = Watch(*stub_, job.id(), 0, true);
  ASSERT_TRUE(full.status.ok());
  ASSERT_GT(full.events.size(), 3u);
  for (size_t k = 0; k < full.events.size(); ++k) {
    WatchResult head;  // events before k
    for (size_t i = 0; i < k; ++i) {
      if (full.events[i].has_log() &&
          full.events[i].log().stream() == mlcube_remote::v1::LOG_STREAM_STDOUT) {
        head.out += full.events[i].log().data();
      }
    }
    WatchResult tail = Watch(*stub_, job.id(), full.events[k].offset(), false);
    ASSERT_TRUE(tail.status.ok()) << k;
    EXPECT_EQ(head.out + tail.out, full.out) << "resuming at event " << k;
    EXPECT_EQ(tail.next_offset, full.next_offset);
  }
  // An offset inside a record is refused, not misread.
  WatchResult bad = Watch(*stub_, job.id(), full.events[1].offset() + 1, false);
  EXPECT_FALSE(bad.status.ok());
  WatchResult past = Watch(*stub_, job.id(), full.next_offset + 100, false);
  EXPECT_EQ(past.status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
}

TEST_F(AgentJobsTest, JobsOfAnotherCallerAreNotFound) {
  Job job = Submit(RunRequest("hello", "fail"));
  std::string out;
  const std::string client = std::string(AGENT_TEST_CLIENT_BIN) + " " + agent_->socket_path();
  ASSERT_EQ(Shell("/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups " + client +
                      " get " + job.id(),
                  &out),
            0);
  EXPECT_EQ(out, "5\n");  // NOT_FOUND
  ASSERT_EQ(Shell("/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups " + client +
                      " cancel " + job.id(),
                  &out),
            0);
  EXPECT_EQ(out, "5\n");
  ASSERT_EQ(Shell(client + " get " + job.id(), &out), 0);
  EXPECT_EQ(out, "0\n");
}

TEST_F(AgentJobsTest, BadRequestsGetClearErrorsAndTheAgentKeepsWorking) {
  grpc::Status s = SubmitStatus(RunRequest("hello", "nope"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("unknown task 'nope'"), std::string::npos) << s.error_message();

  s = SubmitStatus(RunRequest("absent", "greet"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  s = SubmitStatus(RunRequest("../hello", "greet"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  s = SubmitStatus(RunRequest("hello", "greet", mlcube_remote::v1::RUNTIME_PODMAN));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("podman is not installed"), std::string::npos)
      << s.error_message();

  SubmitJobRequest escaping = RunRequest("hello", "greet");
  (*escaping.mutable_overrides())["tasks.greet.parameters.outputs.output_dir.default"] =
      "../../../../../../etc/";
  s = SubmitStatus(escaping);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  SubmitJobRequest moved = RunRequest("hello", "greet");
  (*moved.mutable_overrides())["runtime.workspace"] = "/etc";
  s = SubmitStatus(moved);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  // A metrics file must lie inside one of the tasks' outputs.
  SubmitJobRequest metrics = RunRequest("hello", "greet");
  metrics.set_metrics_path("names.txt");
  s = SubmitStatus(metrics);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("metrics_path 'names.txt': not inside an output of task(s) "
                                   "greet (outputs: greetings)"),
            std::string::npos)
      << s.error_message();

  SubmitJobRequest no_tasks;
  no_tasks.set_cube_id("hello");
  no_tasks.set_action(mlcube_remote::v1::JOB_ACTION_RUN);
  EXPECT_EQ(SubmitStatus(no_tasks).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Still serving, and a good job still runs.
  Job job = Submit(RunRequest("hello", "fail"));
  WatchResult watch = Watch(*stub_, job.id(), 0, true);
  EXPECT_EQ(Get(job.id()).exit_code(), 7);
}

TEST_F(AgentJobsTest, FailingImageBuildFailsTheJobWithTheBuildLog) {
  const std::string cube = agent_->state_dir() + "/cubes/" + kOwner + "/hello";
  std::ofstream(cube + "/build/Dockerfile", std::ios::app)
      << "RUN echo building-the-broken-step && exit 3\n";
  SubmitJobRequest request;
  request.set_cube_id("hello");
  request.set_action(mlcube_remote::v1::JOB_ACTION_CONFIGURE);
  request.set_runtime(mlcube_remote::v1::RUNTIME_DOCKER);
  (*request.mutable_overrides())["docker.image"] = "mlcube/hello-broken:0.1";
  Job job = Submit(request);
  WatchResult watch = Watch(*stub_, job.id(), 0, true);
  Job done = Get(job.id());
  EXPECT_EQ(done.state(), mlcube_remote::v1::JOB_STATE_FAILED);
  EXPECT_NE(done.reason().find("configure"), std::string::npos) << done.reason();
  EXPECT_NE((watch.out + watch.err).find("building-the-broken-step"), std::string::npos)
      << watch.out << watch.err;
}

// Two jobs overlap when the second prints while the first is still running:
// `count` runs until it is cancelled, so a first job still RUNNING after the
// second printed "tick 1" was running all along. One job at a time would
// leave the second queued behind the first and never let it print.
TEST_F(AgentJobsTest, SameClientRequestIdReturnsTheSameJobAndJobsRunConcurrently) {
  SubmitJobRequest request = RunRequest("hello", "count");
  request.set_client_request_id("req-1");
  Job a = Submit(request);
  Job b = Submit(request);
  EXPECT_EQ(a.id(), b.id());
  request.set_client_request_id("req-2");
  Job c = Submit(request);
  EXPECT_NE(a.id(), c.id());
  EXPECT_THAT(WatchUntilOutput(*stub_, a.id(), "tick 1").out, ::testing::HasSubstr("tick 1"));
  EXPECT_THAT(WatchUntilOutput(*stub_, c.id(), "tick 1").out, ::testing::HasSubstr("tick 1"));
  EXPECT_EQ(Get(a.id()).state(), mlcube_remote::v1::JOB_STATE_RUNNING) << Get(a.id()).reason();
  EXPECT_EQ(Get(c.id()).state(), mlcube_remote::v1::JOB_STATE_RUNNING) << Get(c.id()).reason();
  {
    grpc::ClientContext ctx;
    mlcube_remote::v1::ListJobsRequest list;
    list.set_all(true);
    mlcube_remote::v1::ListJobsResponse listed;
    ASSERT_TRUE(stub_->ListJobs(&ctx, list, &listed).ok());
    EXPECT_EQ(listed.jobs_size(), 2);
  }
  for (const Job& job : {a, c}) {
    grpc::ClientContext ctx;
    mlcube_remote::v1::CancelJobRequest cancel;
    cancel.set_job_id(job.id());
    Job cancelled;
    ASSERT_TRUE(stub_->CancelJob(&ctx, cancel, &cancelled).ok());
    EXPECT_EQ(cancelled.state(), mlcube_remote::v1::JOB_STATE_CANCELLED);
  }
}

// SubmitJobs: all or nothing (the refusal names the run and the field, and
// nothing is recorded), the accepted runs in order as ordinary jobs of one
// batch, a retry returning the same jobs, and the batch's own parallel cap.
TEST_F(AgentJobsTest, SubmitJobsIsAllOrNothingIdempotentAndCapsItsRuns) {
  auto submit = [this](const mlcube_remote::v1::SubmitJobsRequest& batch,
                       mlcube_remote::v1::SubmitJobsResponse* response) {
    grpc::ClientContext ctx;
    return stub_->SubmitJobs(&ctx, batch, response);
  };
  auto list_all = [this] {
    grpc::ClientContext ctx;
    mlcube_remote::v1::ListJobsRequest list;
    list.set_all(true);
    mlcube_remote::v1::ListJobsResponse listed;
    EXPECT_TRUE(stub_->ListJobs(&ctx, list, &listed).ok());
    return listed.jobs_size();
  };
  mlcube_remote::v1::SubmitJobsRequest batch;
  for (int i = 0; i < 3; ++i) *batch.add_runs() = RunRequest("hello", "count");
  batch.mutable_runs(2)->set_cube_id("nosuchcube");
  mlcube_remote::v1::SubmitJobsResponse response;
  grpc::Status refused = submit(batch, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(refused.error_message(),
            "runs[2]: cube 'nosuchcube' is not on this agent (sync it first)");
  batch.mutable_runs(2)->set_cube_id("hello");
  batch.mutable_runs(1)->add_tasks("bad task");
  refused = submit(batch, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.error_message(), ::testing::StartsWith("runs[1]: tasks: task name"));
  batch.mutable_runs(1)->clear_tasks();
  batch.mutable_runs(1)->add_tasks("count");
  batch.mutable_runs(0)->set_batch_id("mine");
  refused = submit(batch, &response);
  EXPECT_EQ(refused.error_message(),
            "runs[0]: batch_id: is set by the agent for the runs of SubmitJobs");
  batch.mutable_runs(0)->clear_batch_id();
  EXPECT_EQ(list_all(), 0);  // nothing of the refused batches was recorded

  batch.set_parallel(1);
  batch.set_client_request_id("sweep-1");
  ASSERT_TRUE(submit(batch, &response).ok());
  ASSERT_EQ(response.jobs_size(), 3);
  mlcube_remote::v1::SubmitJobsResponse again;
  ASSERT_TRUE(submit(batch, &again).ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(again.jobs(i).id(), response.jobs(i).id());
    EXPECT_EQ(response.jobs(i).batch_id(), response.jobs(0).id());
    EXPECT_EQ(response.jobs(i).batch_index(), i);
  }
  EXPECT_EQ(list_all(), 3);
  // The agent could run two jobs at once; the batch's cap lets one run. A
  // job outside the batch, submitted after it, takes the free place while
  // the batch's second and third stay queued (without the cap the second
  // would have taken it, and this one would wait).
  WatchResult first = WatchUntilOutput(*stub_, response.jobs(0).id(), "tick 1");
  EXPECT_THAT(first.out, ::testing::HasSubstr("tick 1"));
  Job outside = Submit(RunRequest("hello", "count"));
  WatchResult beside = WatchUntilOutput(*stub_, outside.id(), "tick 1");
  EXPECT_THAT(beside.out, ::testing::HasSubstr("tick 1"));
  EXPECT_EQ(Get(response.jobs(1).id()).state(), mlcube_remote::v1::JOB_STATE_QUEUED);
  EXPECT_EQ(Get(response.jobs(2).id()).state(), mlcube_remote::v1::JOB_STATE_QUEUED);
  {
    grpc::ClientContext ctx;
    mlcube_remote::v1::CancelJobRequest cancel;
    cancel.set_job_id(outside.id());
    Job cancelled;
    ASSERT_TRUE(stub_->CancelJob(&ctx, cancel, &cancelled).ok());
  }
  for (int i = 2; i >= 0; --i) {
    grpc::ClientContext ctx;
    mlcube_remote::v1::CancelJobRequest cancel;
    cancel.set_job_id(response.jobs(i).id());
    Job cancelled;
    ASSERT_TRUE(stub_->CancelJob(&ctx, cancel, &cancelled).ok());
    EXPECT_EQ(cancelled.state(), mlcube_remote::v1::JOB_STATE_CANCELLED);
  }
}

// The agent is killed (SIGKILL) or stopped (SIGTERM: it ends at once, not
// waiting for the task) while a task runs; the restarted agent re-attaches.
class AgentRestartTest : public ::testing::TestWithParam<int> {};

TEST_P(AgentRestartTest, WhileATaskRunsLosesNoOutputAndRecordsTheExit) {
  std::string out;
  ASSERT_EQ(Shell("docker info", &out), 0) << "start Docker with tools/start-docker.sh";
  AgentProcessOptions options;
  options.user = "mlcube";
  auto agent = std::make_unique<AgentProcess>(options);
  ASSERT_TRUE(agent->Start());
  ASSERT_TRUE(PlaceHelloCube(*agent, kOwner, "hello"));
  const std::string workspace = agent->state_dir() + "/cubes/" + kOwner + "/hello/workspace";
  ASSERT_TRUE(::mlcube::testing::AddGreetGates(workspace + "/.."));
  auto stub = Jobs::NewStub(agent->Channel());
  SubmitJobRequest configure;
  configure.set_cube_id("hello");
  configure.set_action(mlcube_remote::v1::JOB_ACTION_CONFIGURE);
  grpc::ClientContext c1;
  Job job;
  ASSERT_TRUE(stub->SubmitJob(&c1, configure, &job).ok());
  Watch(*stub, job.id(), 0, true);

  // Each name waits for its gate: the task is where the test says it is.
  SubmitJobRequest request = RunRequest("hello", "greet");
  (*request.mutable_env())["GREET_DELAY"] = "0";
  (*request.mutable_env())["GREET_GATE"] = "/mlcube_io0/go";
  grpc::ClientContext c2;
  ASSERT_TRUE(stub->SubmitJob(&c2, request, &job).ok());
  WatchResult before = WatchUntilOutput(*stub, job.id(), "Hello, Alice!\n");
  ASSERT_EQ(before.out, "Hello, Alice!\n");

  const std::string state_dir = agent->state_dir();
  const auto stopping = std::chrono::steady_clock::now();
  agent->Kill(GetParam());
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::seconds(3));
  if (GetParam() == SIGTERM) {
    EXPECT_NE(agent->Stderr().find("mlcube-agent: stopped"), std::string::npos) << agent->Stderr();
  }
  stub.reset();
  // Bob is printed (and his file written) while no agent runs.
  ::mlcube::testing::OpenGate(workspace + "/go1");
  ASSERT_TRUE(::mlcube::testing::WaitForFile(workspace + "/greetings/Bob.txt"));
  AgentProcessOptions again = options;
  again.state_dir = state_dir;
  AgentProcess restarted(again);
  ASSERT_TRUE(restarted.Start());
  stub = Jobs::NewStub(restarted.Channel());
  {
    grpc::ClientContext ctx;
    mlcube_remote::v1::GetJobRequest get;
    get.set_job_id(job.id());
    Job now;
    ASSERT_TRUE(stub->GetJob(&ctx, get, &now).ok());
    EXPECT_EQ(now.state(), mlcube_remote::v1::JOB_STATE_RUNNING) << now.reason();
  }
  ::mlcube::testing::OpenGate(workspace + "/go2");
  ::mlcube::testing::OpenGate(workspace + "/go3");
  WatchResult after = Watch(*stub, job.id(), before.next_offset, true);
  ASSERT_TRUE(after.status.ok()) << after.status.error_message();
  EXPECT_EQ(after.out, "Hello, Bob!\nHello, Charlie!\ngreet: wrote 3 greetings to /mlcube_io1\n");
  ASSERT_FALSE(after.states.empty());
  EXPECT_EQ(after.states.back().state(), mlcube_remote::v1::JOB_STATE_SUCCEEDED);
  WatchResult all = Watch(*stub, job.id(), 0, false);
  EXPECT_EQ(all.out, before.out + after.out);
  // The first agent's files are cleaned up by the second's destructor.
  agent.reset();
}

INSTANTIATE_TEST_SUITE_P(Signals, AgentRestartTest, ::testing::Values(SIGKILL, SIGTERM),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == SIGKILL ? std::string("KillNine")
                                                        : std::string("Sigterm");
                         });

}  // namespace
}  // namespace mlcube_test

namespace mlcube_test {
namespace {

// The state dir on a small tmpfs that the test fills up.
TEST(AgentDiskFullTest, AFullDiskGivesClearErrorsAndTheAgentSurvives) {
  std::string out;
  ASSERT_EQ(Shell("docker info", &out), 0) << "start Docker with tools/start-docker.sh";
  char tmpl[] = "/tmp/mlcube-agent-full-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ASSERT_EQ(Shell("mount -t tmpfs -o size=16m,mode=0755 tmpfs " + dir, &out), 0)
      << "cannot mount a tmpfs (the test runs as root): " << out;
  struct Unmount {
    std::string dir;
    ~Unmount() { Shell("umount -l " + dir + " && rmdir " + dir); }
  } unmount{dir};
  uid_t uid;
  gid_t gid;
  ASSERT_TRUE(LookupUser("mlcube", &uid, &gid));
  ASSERT_EQ(Shell("mkdir " + dir + "/state && chown mlcube: " + dir + "/state", &out), 0);
  AgentProcessOptions options;
  options.user = "mlcube";
  options.state_dir = dir + "/state";
  AgentProcess agent(options);
  ASSERT_TRUE(agent.Start());
  ASSERT_TRUE(PlaceHelloCube(agent, kOwner, "hello"));
  auto stub = Jobs::NewStub(agent.Channel());

  // A long task runs while the disk fills up.
  grpc::ClientContext c1;
  Job running;
  ASSERT_TRUE(stub->SubmitJob(&c1, RunRequest("hello", "count"), &running).ok());
  WatchResult first = WatchUntilOutput(*stub, running.id(), "tick 1\n");
  ASSERT_NE(first.out.find("tick 1\n"), std::string::npos) << first.agent << first.err;
  Shell("dd if=/dev/zero of=" + dir + "/filler bs=1M count=64 2>/dev/null; sync");

  // A new job cannot be recorded: a clear error, nothing half made.
  grpc::ClientContext c2;
  Job refused;
  grpc::Status s = stub->SubmitJob(&c2, RunRequest("hello", "fail"), &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();

  // The running job can still be cancelled, and its state is served.
  grpc::ClientContext c3;
  mlcube_remote::v1::CancelJobRequest cancel;
  cancel.set_job_id(running.id());
  Job cancelled;
  ASSERT_TRUE(stub->CancelJob(&c3, cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.state(), mlcube_remote::v1::JOB_STATE_CANCELLED);
  WatchResult rest = Watch(*stub, running.id(), first.next_offset, true);
  EXPECT_TRUE(rest.status.ok()) << rest.status.error_message();

  // Space again: jobs work again, with the same agent process.
  Shell("rm -f " + dir + "/filler");
  grpc::ClientContext c4;
  Job after;
  s = stub->SubmitJob(&c4, RunRequest("hello", "fail"), &after);
  ASSERT_TRUE(s.ok()) << s.error_message();
  Watch(*stub, after.id(), 0, true);
  grpc::ClientContext c5;
  mlcube_remote::v1::GetJobRequest get;
  get.set_job_id(after.id());
  Job done;
  ASSERT_TRUE(stub->GetJob(&c5, get, &done).ok());
  EXPECT_EQ(done.exit_code(), 7);
  EXPECT_TRUE(agent.Running());
}

}  // namespace
}  // namespace mlcube_test

namespace mlcube_test {
namespace {

TEST(AgentQueueTest, MaxConcurrentJobsQueuesTheRestAndAQueuedJobCanBeCancelled) {
  std::string out;
  ASSERT_EQ(Shell("docker info", &out), 0) << "start Docker with tools/start-docker.sh";
  AgentProcessOptions options;
  options.user = "mlcube";
  options.extra_args = {"--max-concurrent-jobs=1"};
  AgentProcess agent(options);
  ASSERT_TRUE(agent.Start());
  ASSERT_TRUE(PlaceHelloCube(agent, kOwner, "hello"));
  auto stub = Jobs::NewStub(agent.Channel());
  auto submit = [&](const std::string& task) {
    grpc::ClientContext ctx;
    Job job;
    EXPECT_TRUE(stub->SubmitJob(&ctx, RunRequest("hello", task), &job).ok());
    return job;
  };
  auto state = [&](const std::string& id) {
    grpc::ClientContext ctx;
    mlcube_remote::v1::GetJobRequest get;
    get.set_job_id(id);
    Job job;
    EXPECT_TRUE(stub->GetJob(&ctx, get, &job).ok());
    return job.state();
  };
  auto cancel = [&](const std::string& id) {
    grpc::ClientContext ctx;
    mlcube_remote::v1::CancelJobRequest request;
    request.set_job_id(id);
    Job job;
    EXPECT_TRUE(stub->CancelJob(&ctx, request, &job).ok());
    return job.state();
  };
  Job first = submit("count");
  Job second = submit("count");
  Job third = submit("fail");
  WatchResult w = WatchUntilOutput(*stub, first.id(), "tick 1\n");
  EXPECT_EQ(state(second.id()), mlcube_remote::v1::JOB_STATE_QUEUED);
  EXPECT_EQ(state(third.id()), mlcube_remote::v1::JOB_STATE_QUEUED);
  EXPECT_EQ(cancel(second.id()), mlcube_remote::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(cancel(first.id()), mlcube_remote::v1::JOB_STATE_CANCELLED);
  // The freed slot goes to the next queued job.
  WatchResult last = Watch(*stub, third.id(), 0, true);
  EXPECT_EQ(state(third.id()), mlcube_remote::v1::JOB_STATE_FAILED);
  grpc::ClientContext ctx;
  mlcube_remote::v1::ListJobsRequest list;  // unfinished only
  mlcube_remote::v1::ListJobsResponse listed;
  ASSERT_TRUE(stub->ListJobs(&ctx, list, &listed).ok());
  EXPECT_EQ(listed.jobs_size(), 0);
}

}  // namespace
}  // namespace mlcube_test

namespace mlcube_test {
namespace {

TEST(AgentLogCapTest, PastTheCapTheOldestOutputIsCutAndTheJobSaysSo) {
  std::string out;
  ASSERT_EQ(Shell("docker info", &out), 0) << "start Docker with tools/start-docker.sh";
  char tmpl[] = "/tmp/mlcube-agent-cap-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string config = std::string(tmpl) + "/agent.yaml";
  std::ofstream(config) << "limits: {job_log_bytes: 4096}\n";
  Shell(std::string("chmod -R a+rX ") + tmpl);
  AgentProcessOptions options;
  options.user = "mlcube";
  options.extra_args = {"--config=" + config};
  AgentProcess agent(options);
  ASSERT_TRUE(agent.Start());
  ASSERT_TRUE(PlaceHelloCube(agent, kOwner, "hello"));
  // 400 names: ~6.5 KB of greetings.
  const std::string names = agent.state_dir() + "/cubes/" + kOwner + "/hello/workspace/names.txt";
  {
    std::ofstream f(names);
    for (int i = 0; i < 400; ++i) f << "name" << i << "\n";
  }
  auto stub = Jobs::NewStub(agent.Channel());
  SubmitJobRequest request = RunRequest("hello", "greet");
  (*request.mutable_env())["GREET_DELAY"] = "0";
  grpc::ClientContext ctx;
  Job job;
  ASSERT_TRUE(stub->SubmitJob(&ctx, request, &job).ok());
  WatchResult followed = Watch(*stub, job.id(), 0, true);
  ASSERT_TRUE(followed.status.ok());
  ASSERT_FALSE(followed.states.empty());
  EXPECT_EQ(followed.states.back().state(), mlcube_remote::v1::JOB_STATE_SUCCEEDED);
  // Read afterwards: one line says what was cut, the latest output is kept.
  WatchResult later = Watch(*stub, job.id(), 0, false);
  ASSERT_TRUE(later.status.ok());
  EXPECT_THAT(later.agent, testing::ContainsRegex("mlcube-agent: [0-9]+ bytes of this job's "
                                                  "earlier log were cut"));
  EXPECT_EQ(later.out.find("name0\n"), std::string::npos);
  EXPECT_NE(later.out.find("greet: wrote 400 greetings"), std::string::npos) << later.out;
  EXPECT_EQ(later.states.back().state(), mlcube_remote::v1::JOB_STATE_SUCCEEDED);
  grpc::ClientContext get_ctx;
  mlcube_remote::v1::GetJobRequest get;
  get.set_job_id(job.id());
  Job done;
  ASSERT_TRUE(stub->GetJob(&get_ctx, get, &done).ok());
  EXPECT_TRUE(done.log_truncated());
  // Offsets kept counting; the disk holds about the cap.
  EXPECT_GT(done.log_end_offset(), 6000);
  struct stat log_stat {};
  ASSERT_EQ(stat((agent.state_dir() + "/jobs/" + job.id() + "/log").c_str(), &log_stat), 0);
  EXPECT_LE(log_stat.st_blocks * 512, 4096 + 8192);
  // The task itself was not cut short.
  struct stat st {};
  EXPECT_EQ(stat((agent.state_dir() + "/cubes/" + kOwner + "/hello/workspace/greetings/name399.txt")
                     .c_str(),
                 &st),
            0);
  Shell(std::string("rm -rf ") + tmpl);
}

}  // namespace
}  // namespace mlcube_test

namespace mlcube_test {
namespace {

TEST(AgentSupervisorLossTest, AKilledSupervisorFailsTheJobAndStopsItsContainer) {
  std::string out;
  ASSERT_EQ(Shell("docker info", &out), 0) << "start Docker with tools/start-docker.sh";
  AgentProcessOptions options;
  options.user = "mlcube";
  AgentProcess agent(options);
  ASSERT_TRUE(agent.Start());
  ASSERT_TRUE(PlaceHelloCube(agent, kOwner, "hello"));
  auto stub = Jobs::NewStub(agent.Channel());
  grpc::ClientContext ctx;
  Job job;
  ASSERT_TRUE(stub->SubmitJob(&ctx, RunRequest("hello", "count"), &job).ok());
  WatchResult first = WatchUntilOutput(*stub, job.id(), "tick 1\n");
  ASSERT_NE(first.out.find("tick 1\n"), std::string::npos) << first.agent << first.err;
  // The step's supervisor: the process started with --step=STEP_PREFIX (the
  // brackets keep the pattern from matching the shell that runs pkill).
  const std::string step = agent.state_dir() + "/jobs/" + job.id() + "/step-";
  std::string plan;
  Shell("cat " + agent.state_dir() + "/jobs/" + job.id() + "/plan", &plan);
  const int step_index = plan.find("configure") == std::string::npos ? 0 : 1;
  ASSERT_EQ(
      Shell("pkill -9 -f -- '--step=" + step + "[" + std::to_string(step_index) + "] '", &out), 0)
      << out;
  WatchResult rest = Watch(*stub, job.id(), first.next_offset, true);
  ASSERT_FALSE(rest.states.empty());
  EXPECT_EQ(rest.states.back().state(), mlcube_remote::v1::JOB_STATE_FAILED);
  EXPECT_NE(rest.states.back().reason().find("supervisor died"), std::string::npos)
      << rest.states.back().reason();
  std::string ps;
  EXPECT_TRUE(ContainersGone(job.id(), &ps)) << "container left running: " << ps;
}

}  // namespace
}  // namespace mlcube_test

namespace mlcube_test {
namespace {

TEST(AgentMissingRecipeTest, NoDockerfileAndNoReachableRegistryFailsTheJobWithTheReason) {
  std::string out;
  ASSERT_EQ(Shell("docker info", &out), 0) << "start Docker with tools/start-docker.sh";
  AgentProcessOptions options;
  options.user = "mlcube";
  AgentProcess agent(options);
  ASSERT_TRUE(agent.Start());
  ASSERT_TRUE(PlaceHelloCube(agent, kOwner, "hello"));
  Shell("rm " + agent.state_dir() + "/cubes/" + kOwner + "/hello/build/Dockerfile");
  auto stub = Jobs::NewStub(agent.Channel());
  SubmitJobRequest request = RunRequest("hello", "greet");
  (*request.mutable_overrides())["docker.image"] = "mlcube/not-built-anywhere:0.1";
  grpc::ClientContext ctx;
  Job job;
  ASSERT_TRUE(stub->SubmitJob(&ctx, request, &job).ok());
  WatchResult watch = Watch(*stub, job.id(), 0, true);
  ASSERT_FALSE(watch.states.empty());
  const auto& last = watch.states.back();
  EXPECT_EQ(last.state(), mlcube_remote::v1::JOB_STATE_FAILED);
  EXPECT_NE(last.reason().find("configure"), std::string::npos) << last.reason();
  EXPECT_NE(watch.agent.find("no recipe at"), std::string::npos) << watch.agent;
  EXPECT_NE(watch.agent.find("pull mlcube/not-built-anywhere:0.1"), std::string::npos)
      << watch.agent;
  EXPECT_FALSE(watch.err.empty()) << "the pull's error message belongs in the job log";
}

}  // namespace
}  // namespace mlcube_test

namespace mlcube_test {
namespace {

// The admin's task limits reach the task's container: it reads them from
// its own cgroup.
class AgentTaskLimitsTest : public HelloCubeAgentTest {
 protected:
  void SetUp() override {
    std::string out;
    ASSERT_EQ(Shell("docker info", &out), 0)
        << "the Docker engine is not running; start it as root with tools/start-docker.sh";
    ASSERT_EQ(chmod(config_dir_.path().c_str(), 0755), 0);
    config_dir_.WriteFile("agent.yaml", "limits: {task_pids: 64, task_memory: 64M}\n");
    StartAgentWithHelloCube({"--config=" + config_dir_.path() + "/agent.yaml"});
    std::ofstream(agent_->state_dir() + "/cubes/" + owner_ + "/hello/build/hello.sh",
                  std::ios::trunc)
        << "#!/bin/sh\n"
           "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes "
           "2>/dev/null || cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max\n";
  }
  void TearDown() override { Shell("docker rmi -f " + tag_ + " >/dev/null 2>&1"); }

  ::mlcube::testing::TempDir config_dir_;
  const std::string image_ = "mlcube/limits-test:" + std::to_string(getpid());
  const std::string tag_ = ::mlcube::OwnerImageTag("uid-" + std::to_string(getuid()), image_);
};

TEST_F(AgentTaskLimitsTest, TheTasksContainerHasTheAdminsMemoryAndProcessLimits) {
  SubmitJobRequest request = RunRequest("hello", "greet");
  (*request.mutable_overrides())["docker.image"] = image_;
  Job job = Submit(request);
  WatchResult watch = Watch(*stub_, job.id(), 0, true, nullptr, 300);
  ASSERT_TRUE(watch.status.ok()) << watch.status.error_message();
  ASSERT_EQ(Get(job.id()).state(), mlcube_remote::v1::JOB_STATE_SUCCEEDED)
      << watch.agent << watch.out << watch.err;
  // After the image build's output, what the task read.
  const std::string limits = "\n64\n67108864\n";
  ASSERT_GE(watch.out.size(), limits.size());
  EXPECT_EQ(watch.out.substr(watch.out.size() - limits.size()), limits) << watch.out;
  EXPECT_NE(watch.agent.find("--pids-limit=64"), std::string::npos) << watch.agent;
}

}  // namespace
}  // namespace mlcube_test
