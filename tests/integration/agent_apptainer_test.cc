// Jobs against a real agent (as user `mlcube`) and the real, unprivileged
// Apptainer (tools/install-apptainer.sh), with the offline hello cube.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "agent/runtimes/container_runtime.h"
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
constexpr auto kSingularity = mlcube_remote::v1::RUNTIME_SINGULARITY;

class AgentApptainerTest : public HelloCubeAgentTest {
 protected:
  void SetUp() override {
    std::string out;
    ASSERT_EQ(Shell("apptainer --version", &out), 0)
        << "Apptainer is not installed; install it as root with tools/install-apptainer.sh";
    StartAgentWithHelloCube();
  }

  std::string Sif() const { return agent_->state_dir() + "/images/" + kOwner + "/hello-0.1.sif"; }
};

TEST_F(AgentApptainerTest, RunBuildsTheSifFromTheRecipeIntoTheImageDirThenRuns) {
  SubmitJobRequest request = RunRequest("hello", "greet", kSingularity);
  (*request.mutable_env())["GREET_DELAY"] = "0.05";
  Job job = Submit(request);
  WatchResult watch = Watch(*stub_, job.id(), 0, true);
  ASSERT_TRUE(watch.status.ok()) << watch.status.error_message();
  Job done = Get(job.id());
  ASSERT_EQ(done.state(), mlcube_remote::v1::JOB_STATE_SUCCEEDED)
      << done.reason() << "\n"
      << watch.agent << watch.out << watch.err;
  EXPECT_NE(watch.agent.find("apptainer build"), std::string::npos) << watch.agent;
  const std::string greet =
      "Hello, Alice!\nHello, Bob!\nHello, Charlie!\ngreet: wrote 3 greetings to /mlcube_io1\n";
  ASSERT_GE(watch.out.size(), greet.size()) << watch.out;
  EXPECT_EQ(watch.out.substr(watch.out.size() - greet.size()), greet);
  // The SIF is in the image dir (not in the workspace) and is a real SIF.
  const std::string sif = ::mlcube::testing::ReadFileContent(Sif());
  ASSERT_GT(sif.size(), 41u);
  EXPECT_EQ(sif.substr(32, 9), "SIF_MAGIC");
  std::string found;
  Shell("find '" + Workspace() + "' -name '*.sif'", &found);
  EXPECT_EQ(found, "");
  EXPECT_EQ(::mlcube::testing::ReadFileContent(Workspace() + "/greetings/summary.txt"),
            "greeted 3 names\n");
  struct stat st {};
  ASSERT_EQ(stat((Workspace() + "/greetings/Alice.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, agent_->uid());

  // A second run uses the SIF as it is: no build.
  Job again = Submit(RunRequest("hello", "fail", kSingularity));
  WatchResult second = Watch(*stub_, again.id(), 0, true);
  EXPECT_EQ(second.agent.find("apptainer build"), std::string::npos) << second.agent;
  Job failed = Get(again.id());
  EXPECT_EQ(failed.state(), mlcube_remote::v1::JOB_STATE_FAILED);
  EXPECT_EQ(failed.exit_code(), 7);
  EXPECT_NE(second.err.find("fail: this task fails on purpose"), std::string::npos) << second.err;
}

TEST_F(AgentApptainerTest, CancelStopsTheTaskAndItsProcesses) {
  Job job = Submit(RunRequest("hello", "count", kSingularity));
  WatchResult first = WatchUntilOutput(*stub_, job.id(), "tick 1\n");
  ASSERT_NE(first.out.find("tick 1\n"), std::string::npos) << first.agent << first.err;
  grpc::ClientContext ctx;
  mlcube_remote::v1::CancelJobRequest cancel;
  cancel.set_job_id(job.id());
  Job cancelled;
  ASSERT_TRUE(stub_->CancelJob(&ctx, cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.state(), mlcube_remote::v1::JOB_STATE_CANCELLED);
  // The step's process group (apptainer and the container's processes) is
  // gone. (Other users of this machine may run the same cube: look only at
  // this job's processes.)
  auto text = [](const std::string& path) {
    std::ifstream in(path);
    std::string s;
    std::getline(in, s);
    return s;
  };
  const std::string pgid = text(agent_->state_dir() + "/jobs/" + job.id() + "/step-0.pgid");
  ASSERT_FALSE(pgid.empty());
  EXPECT_NE(kill(-std::stoi(pgid), 0), 0) << "task processes left behind";
  // Apptainer's unpacked sandbox went with the job's scratch dir.
  EXPECT_NE(access((agent_->state_dir() + "/jobs/" + job.id() + "/tmp").c_str(), F_OK), 0);
}

TEST_F(AgentApptainerTest, BuildsFromALocallyBuiltDockerImage) {
  SubmitJobRequest configure;
  configure.set_cube_id("hello");
  configure.set_action(mlcube_remote::v1::JOB_ACTION_CONFIGURE);
  configure.set_runtime(mlcube_remote::v1::RUNTIME_DOCKER);
  Job built = Submit(configure);
  Watch(*stub_, built.id(), 0, true);
  ASSERT_EQ(Get(built.id()).state(), mlcube_remote::v1::JOB_STATE_SUCCEEDED);

  SubmitJobRequest request = RunRequest("hello", "greet", kSingularity);
  (*request.mutable_overrides())["singularity.build_file"] = "docker-daemon:mlcube/hello:0.1";
  (*request.mutable_env())["GREET_DELAY"] = "0";
  Job job = Submit(request);
  WatchResult watch = Watch(*stub_, job.id(), 0, true);
  Job done = Get(job.id());
  EXPECT_EQ(done.state(), mlcube_remote::v1::JOB_STATE_SUCCEEDED) << done.reason() << watch.err;
  // The caller's own Docker build of that image, never a shared tag.
  const std::string own =
      ::mlcube::OwnerImageTag("uid-" + std::to_string(getuid()), "mlcube/hello:0.1");
  EXPECT_NE(watch.agent.find("docker-daemon:" + own), std::string::npos) << watch.agent;
  EXPECT_NE(watch.out.find("Hello, Charlie!"), std::string::npos);
}

TEST_F(AgentApptainerTest, KillNineOfTheAgentDoesNotLoseTheTask) {
  const std::string workspace = Workspace();
  ASSERT_TRUE(::mlcube::testing::AddGreetGates(workspace + "/.."));
  SubmitJobRequest configure;
  configure.set_cube_id("hello");
  configure.set_action(mlcube_remote::v1::JOB_ACTION_CONFIGURE);
  configure.set_runtime(kSingularity);
  Job built = Submit(configure);
  Watch(*stub_, built.id(), 0, true);
  ASSERT_EQ(Get(built.id()).state(), mlcube_remote::v1::JOB_STATE_SUCCEEDED);

  // Each name waits for its gate: the task is where the test says it is.
  SubmitJobRequest request = RunRequest("hello", "greet", kSingularity);
  (*request.mutable_env())["GREET_DELAY"] = "0";
  (*request.mutable_env())["GREET_GATE"] = "/mlcube_io0/go";
  Job job = Submit(request);
  WatchResult before = WatchUntilOutput(*stub_, job.id(), "Hello, Alice!\n");
  ASSERT_NE(before.out.find("Hello, Alice!\n"), std::string::npos);
  const std::string state_dir = agent_->state_dir();
  agent_->Kill(SIGKILL);
  // Bob is printed (and his file written) while no agent runs.
  ::mlcube::testing::OpenGate(workspace + "/go1");
  ASSERT_TRUE(::mlcube::testing::WaitForFile(workspace + "/greetings/Bob.txt"));
  AgentProcessOptions again;
  again.user = "mlcube";
  again.state_dir = state_dir;
  AgentProcess restarted(again);
  ASSERT_TRUE(restarted.Start());
  stub_ = Jobs::NewStub(restarted.Channel());
  Job now = Get(job.id());
  EXPECT_EQ(now.state(), mlcube_remote::v1::JOB_STATE_RUNNING) << now.reason();
  ::mlcube::testing::OpenGate(workspace + "/go2");
  ::mlcube::testing::OpenGate(workspace + "/go3");
  WatchResult after = Watch(*stub_, job.id(), before.next_offset, true);
  EXPECT_EQ(before.out + after.out,
            "Hello, Alice!\nHello, Bob!\nHello, Charlie!\ngreet: wrote 3 greetings to "
            "/mlcube_io1\n");
  ASSERT_FALSE(after.states.empty());
  EXPECT_EQ(after.states.back().state(), mlcube_remote::v1::JOB_STATE_SUCCEEDED);
}

TEST_F(AgentApptainerTest, NoRecipeAndNoImageToConvertFailsTheJobWithTheReason) {
  Shell("rm " + agent_->state_dir() + "/cubes/" + kOwner + "/hello/build/Singularity.recipe");
  SubmitJobRequest request = RunRequest("hello", "greet", kSingularity);
  (*request.mutable_overrides())["docker.image"] = "mlcube/not-built-anywhere:0.1";
  Job job = Submit(request);
  WatchResult watch = Watch(*stub_, job.id(), 0, true);
  Job done = Get(job.id());
  EXPECT_EQ(done.state(), mlcube_remote::v1::JOB_STATE_FAILED);
  EXPECT_NE(done.reason().find("configure"), std::string::npos) << done.reason();
  // It tried the registry (unreachable here) and says why.
  EXPECT_NE(watch.agent.find("docker://mlcube/not-built-anywhere:0.1"), std::string::npos)
      << watch.agent;
  std::string left;
  Shell("ls " + agent_->state_dir() + "/images/" + kOwner, &left);
  EXPECT_EQ(left, "") << "no half-built SIF in the image dir";
}

TEST_F(AgentApptainerTest, KillNineDuringTheImageBuildStillInstallsTheSifAndRunsTheTask) {
  SubmitJobRequest request = RunRequest("hello", "greet", kSingularity);
  (*request.mutable_env())["GREET_DELAY"] = "0";
  Job job = Submit(request);
  WatchResult before = Watch(*stub_, job.id(), 0, true, [](const WatchResult& r) {
    return r.agent.find("configure: ") != std::string::npos;
  });
  ASSERT_NE(before.agent.find("apptainer build"), std::string::npos) << before.agent;
  const std::string state_dir = agent_->state_dir();
  agent_->Kill(SIGKILL);  // the build goes on under its supervisor
  AgentProcessOptions again;
  again.user = "mlcube";
  again.state_dir = state_dir;
  AgentProcess restarted(again);
  ASSERT_TRUE(restarted.Start());
  stub_ = Jobs::NewStub(restarted.Channel());
  WatchResult after = Watch(*stub_, job.id(), before.next_offset, true);
  ASSERT_FALSE(after.states.empty());
  EXPECT_EQ(after.states.back().state(), mlcube_remote::v1::JOB_STATE_SUCCEEDED)
      << after.states.back().reason() << after.err;
  EXPECT_NE(after.out.find("Hello, Charlie!"), std::string::npos) << after.out;
  const std::string sif = ::mlcube::testing::ReadFileContent(Sif());
  ASSERT_GT(sif.size(), 41u);
  EXPECT_EQ(sif.substr(32, 9), "SIF_MAGIC");
}

// `.,DIR/` is a directory inside the workspace, but `--bind WS/.,DIR:/mlcube_io1`
// is two binds to Apptainer: the cube's output would be DIR, outside the
// workspace, read-write. The cube is refused at submit, naming the
// parameter, and nothing reaches DIR.
TEST_F(AgentApptainerTest, AnOutputPathWithABindListSeparatorIsRefusedAndMountsNothing) {
  ::mlcube::testing::TempDir outside;
  const std::string canary = outside.path() + "/home";
  ASSERT_EQ(Shell("mkdir '" + canary + "' && echo keep > '" + canary + "/mine.txt' && chown -R " +
                  std::to_string(agent_->uid()) + " '" + outside.path() + "'"),
            0);
  const std::string yaml = Workspace() + "/../mlcube.yaml";
  ASSERT_EQ(Shell("sed -i 's|default: greetings/|default: \".," + canary + "/\"|' '" + yaml +
                  "' && grep -qF '.,/' '" + yaml + "'"),
            0)
      << ::mlcube::testing::ReadFileContent(yaml);
  SubmitJobRequest request = RunRequest("hello", "greet", kSingularity);
  (*request.mutable_env())["GREET_DELAY"] = "0";
  grpc::ClientContext ctx;
  Job job;
  const grpc::Status s = stub_->SubmitJob(&ctx, request, &job);
  if (s.ok()) {  // what an agent without the check did: run it
    Watch(*stub_, job.id(), 0, true);
    ADD_FAILURE() << "submitted as job " << job.id() << ", state " << Get(job.id()).state();
  }
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("tasks.greet.parameters.outputs.output_dir: "),
            std::string::npos)
      << s.error_message();
  EXPECT_EQ(s.error_message().find('\n'), std::string::npos) << s.error_message();
  std::string listing;
  Shell("ls -A '" + canary + "'", &listing);
  EXPECT_EQ(listing, "mine.txt\n") << "the task wrote outside its workspace";
}

}  // namespace
}  // namespace mlcube_test
