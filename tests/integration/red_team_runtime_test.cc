// Red team: what one identity's cube can make the runtime do on a shared
// agent. alice attacks, bob is the victim; a real agent over mutual TLS,
// real Docker and real (unprivileged) Apptainer. Each attack must be refused
// (or contained), bob's files must be untouched and nothing of his may
// appear in alice's output, and the agent must still serve bob afterwards.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controller/sync/sync_client.h"
#include "mlcube_remote/v1/jobs.grpc.pb.h"
#include "tests/integration/jobs_client.h"
#include "tests/integration/two_identity_agent.h"
#include "tests/support/command_runner.h"
#include "tests/support/hello_cube.h"
#include "tests/support/temp_dir.h"

namespace mlcube_test {
namespace {

namespace v1 = ::mlcube_remote::v1;
using ::mlcube::testing::CommandResult;
using ::mlcube::testing::ReadFileContent;
using ::testing::HasSubstr;
using ::testing::Not;

// task_users making cn-alice the agent's owner (her tasks run as the agent's
// uid, as Apptainer needs), a pool for bob.
std::string AliceOwnsTheAgentConfig() {
  return "task_users: {owners: [cn-alice], pool: \"3100100-3100199\"}\n";
}

class RedTeamRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(MLCUBE_SOURCE_DIR "/examples/hello/build/busybox", X_OK), 0)
        << "run tools/prepare-examples.sh first (copies busybox into examples/hello/build)";
    ASSERT_EQ(Shell("docker info >/dev/null 2>&1"), 0) << "start Docker: tools/start-docker.sh";
    ASSERT_EQ(Shell("apptainer --version >/dev/null"), 0)
        << "Apptainer is not installed; install it as root with tools/install-apptainer.sh";
    ASSERT_TRUE(agents_.Start());
    secret_ = "bob-secret-" + std::to_string(getpid());
    bob_cube_ = CopyOfHello("bob-hello");
    std::ofstream(bob_cube_ + "/workspace/secret.txt") << secret_ << "\n";
    std::ofstream(bob_cube_ + "/build/Dockerfile", std::ios::app) << "# " << secret_ << "\n";
    CommandResult push = agents_.As("bob", {"sync", "push", "--mlcube=" + bob_cube_});
    ASSERT_EQ(push.exit_code, 0) << push.err << agents_.agent().Stderr();
    bob_root_ = agents_.agent().state_dir() + "/cubes/cn-bob/" +
                ::mlcube::SyncClient::DefaultCubeId(bob_cube_);
    ASSERT_EQ(ReadFileContent(bob_root_ + "/workspace/secret.txt"), secret_ + "\n");
    bob_before_ = BobTree();
    alice_cube_ = CopyOfHello("alice-hello");
  }

  void TearDown() override {
    // Left-overs of a failed containment check, found by their unique
    // command lines and killed by pid.
    for (const char* pattern : {"sleep 7341", "sleep 7342", "sleep 7343"}) {
      std::string pids;
      Shell(std::string("pgrep -f '") + pattern + "'", &pids);
      for (absl::string_view pid : absl::StrSplit(pids, '\n', absl::SkipEmpty())) {
        Shell(absl::StrCat("kill -9 ", pid));
      }
    }
  }

  std::string CopyOfHello(const std::string& name) {
    const std::string cube = agents_.root() + "/" + name;
    EXPECT_TRUE(::mlcube::testing::CopyHelloCube(cube));
    return cube;
  }

  std::string BobId() const { return ::mlcube::SyncClient::DefaultCubeId(bob_cube_); }

  // Every path of bob's cube with its size and content hash.
  std::string BobTree() {
    std::string out;
    Shell(
        "cd '" + bob_root_ + "' && find . -printf '%p %s %y\\n' | sort && cat workspace/secret.txt",
        &out);
    return out;
  }

  // `mlcube-remote run` as alice with -P overrides: must be refused before
  // anything runs (exit 2), naming `key`, with nothing of bob's in it.
  void ExpectRunRefused(const std::vector<std::string>& overrides, const std::string& key) {
    std::vector<std::string> args = {"run", "--mlcube=" + alice_cube_, "--task=greet"};
    for (const std::string& o : overrides) {
      args.push_back("-P");
      args.push_back(o);
    }
    CommandResult run = agents_.As("alice", args);
    const std::string said = run.out + run.err;
    EXPECT_EQ(run.exit_code, 2) << overrides[0] << "\n" << said;
    EXPECT_THAT(run.err, HasSubstr(key)) << overrides[0];
    EXPECT_THAT(said, Not(HasSubstr(secret_))) << overrides[0];
  }

  // Pushes alice's cube (for the gRPC calls).
  void PushAlice() {
    CommandResult push = agents_.As("alice", {"sync", "push", "--mlcube=" + alice_cube_});
    ASSERT_EQ(push.exit_code, 0) << push.err;
  }

  std::unique_ptr<v1::Jobs::Stub> Jobs(const std::string& user) {
    return v1::Jobs::NewStub(agents_.Channel(user));
  }

  grpc::Status Submit(const std::string& user, const v1::SubmitJobRequest& request, v1::Job* job) {
    grpc::ClientContext ctx;
    return Jobs(user)->SubmitJob(&ctx, request, job);
  }

  v1::SubmitJobRequest SingularityRun(const std::string& task,
                                      const std::map<std::string, std::string>& overrides = {}) {
    v1::SubmitJobRequest request =
        RunRequest(::mlcube::SyncClient::DefaultCubeId(alice_cube_), task, v1::RUNTIME_SINGULARITY);
    for (const auto& [k, v] : overrides) (*request.mutable_overrides())[k] = v;
    return request;
  }

  // A singularity submit of alice's that must be refused with `expected`.
  void ExpectSubmitRefused(const std::map<std::string, std::string>& overrides,
                           const std::string& expected) {
    v1::Job job;
    grpc::Status status = Submit("alice", SingularityRun("greet", overrides), &job);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << overrides.begin()->second << " -> job " << job.id() << " " << job.state();
    EXPECT_THAT(status.error_message(), HasSubstr(expected)) << overrides.begin()->second;
    EXPECT_THAT(status.error_message(), Not(HasSubstr(secret_)));
  }

  // bob's own cube still runs, and nothing of his changed.
  void ExpectBobUnharmedAndServed() {
    EXPECT_EQ(BobTree(), bob_before_) << "bob's cube changed";
    CommandResult bob = agents_.As("bob", {"run", "--mlcube=" + bob_cube_, "--task=greet"});
    EXPECT_EQ(bob.exit_code, 0) << bob.out << bob.err << agents_.agent().Stderr();
    EXPECT_THAT(bob.out, HasSubstr("Hello, Alice!"));
  }

  // Processes of the agent's user whose command line contains `text`.
  std::string ProcessesWith(const std::string& text) {
    std::string out;
    Shell("pgrep -a -u " + std::to_string(agents_.agent().uid()) + " -f '" + text + "'", &out);
    return out;
  }

  // Polls until no process of the agent's user matches `text` (30 s at
  // most: the processes it guards against would live for hours); the last
  // listing goes to `left`.
  bool ProcessesGone(const std::string& text, std::string* left) {
    for (int i = 0; i < 300; ++i) {
      *left = ProcessesWith(text);
      if (left->empty()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // alice is the agent's owner here (her tasks run as the agent's user, as
  // Apptainer's must): these attacks are on what the agent itself does.
  // bob's tasks run as a uid of his own.
  TwoIdentityAgent agents_{AliceOwnsTheAgentConfig(), "mlcube"};
  std::string secret_, bob_cube_, bob_root_, bob_before_, alice_cube_;
};

TEST_F(RedTeamRuntimeTest, DockerRunArgumentsCannotReachTheHost) {
  const std::string bob_secret = bob_root_ + "/workspace/secret.txt";
  ExpectRunRefused({"docker.cpu_args=-u0 -v/:/host"}, "docker.cpu_args");
  ExpectRunRefused({"docker.cpu_args=-u=0"}, "docker.cpu_args");
  ExpectRunRefused({"docker.cpu_args=--network host"}, "docker.cpu_args");
  ExpectRunRefused({"docker.env_args=--env-file " + bob_secret}, "docker.env_args");
  ExpectRunRefused({"docker.cpu_args=--cidfile " + bob_root_ + "/workspace/cid"},
                   "docker.cpu_args");
  EXPECT_NE(access((bob_root_ + "/workspace/cid").c_str(), F_OK), 0);
  ExpectBobUnharmedAndServed();
}

TEST_F(RedTeamRuntimeTest, ApptainerArgumentsCannotReachTheHost) {
  PushAlice();
  ExpectSubmitRefused({{"singularity.run_args", "-B/etc:/x"}}, "singularity.run_args");
  ExpectSubmitRefused({{"singularity.run_args", "-B=/etc"}}, "singularity.run_args");
  ExpectSubmitRefused({{"singularity.build_args", "--bind /:/host"}}, "singularity.build_args");
  ExpectSubmitRefused({{"singularity.build_args", "--fakeroot --writable-tmpfs -B/:/h"}},
                      "singularity.build_args");
  ExpectBobUnharmedAndServed();
}

// bob's private build, named by its image ID (or a prefix of it), would run
// bob's image with alice's workspace, or hand alice bob's image.
TEST_F(RedTeamRuntimeTest, AnotherIdentitysBuildCannotBeNamedByItsId) {
  CommandResult bob = agents_.As("bob", {"run", "--mlcube=" + bob_cube_, "--task=greet"});
  ASSERT_EQ(bob.exit_code, 0) << bob.out << bob.err;
  bob_before_ = BobTree();  // with bob's own outputs
  std::string id;
  ASSERT_EQ(Shell("docker images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}' | "
                  "grep '^mlcube-local/cn-bob:' | head -1 | cut -d' ' -f2 | tr -d '\\n'",
                  &id),
            0);
  ASSERT_EQ(id.substr(0, 7), "sha256:") << id;
  const std::string hex = id.substr(7);
  for (const std::string& name :
       {hex.substr(0, 4), hex.substr(0, 12), hex, "sha256:" + hex.substr(0, 12), id}) {
    ExpectRunRefused({"docker.image=" + name, "docker.build_strategy=pull"}, "docker.image");
  }
  PushAlice();
  ExpectSubmitRefused({{"singularity.build_file", "docker-daemon:" + id}},
                      "singularity.build_file");
  ExpectSubmitRefused({{"singularity.build_file", "docker-daemon:" + hex.substr(0, 12)}},
                      "singularity.build_file");
  ExpectSubmitRefused({{"docker.image", hex.substr(0, 6)}}, "docker.image");
  ExpectBobUnharmedAndServed();
}

TEST_F(RedTeamRuntimeTest, DockerBuildsSeeOnlyTheirBuildContext) {
  // The synced cubes lie side by side: STATE/cubes/OWNER/CUBE_ID.
  ExpectRunRefused({"docker.build_file=../../../cn-bob/" + BobId() + "/build/Dockerfile",
                    "docker.build_strategy=always"},
                   "docker.build_file");
  ExpectRunRefused(
      {"docker.build_file=" + bob_root_ + "/workspace/secret.txt", "docker.build_strategy=always"},
      "docker.build_file");
  ExpectBobUnharmedAndServed();
}

TEST_F(RedTeamRuntimeTest, ApptainerRecipesSeeOnlyTheirBuildContext) {
  const std::string secret_path = bob_root_ + "/workspace/secret.txt";
  const std::string build = alice_cube_ + "/build/";
  std::ofstream(build + "setup.recipe")
      << "Bootstrap: scratch\n%setup\n    cat " << secret_path << "\n%files\n    busybox /bin/sh\n";
  std::ofstream(build + "files.recipe")
      << "Bootstrap: scratch\n%files\n    busybox /bin/sh\n    " << secret_path << " /secret\n";
  std::ofstream(build + "shadow.recipe") << "Bootstrap: scratch\n%files\n    /etc/shadow /s\n";
  std::ofstream(build + "shell.recipe")
      << "Bootstrap: scratch\n%files\n    $(cat${IFS}" << secret_path << ">&2) /x\n";
  std::ofstream(build + "local.recipe")
      << "Bootstrap: localimage\nFrom: " << agents_.agent().state_dir()
      << "/images/cn-bob/hello-0.1.sif\n";
  PushAlice();
  ExpectSubmitRefused({{"singularity.build_file", "setup.recipe"}}, "%setup");
  ExpectSubmitRefused({{"singularity.build_file", "files.recipe"}}, "outside the build context");
  ExpectSubmitRefused({{"singularity.build_file", "shadow.recipe"}}, "'/etc/shadow'");
  ExpectSubmitRefused({{"singularity.build_file", "shell.recipe"}}, "has a character");
  ExpectSubmitRefused({{"singularity.build_file", "local.recipe"}}, "From: '");
  ExpectSubmitRefused(
      {{"singularity.build_file", "../../../cn-bob/" + BobId() + "/build/Singularity.recipe"}},
      "singularity.build_file");
  ExpectBobUnharmedAndServed();
}

// An Apptainer task's background processes end with its job, also when
// they left its process group and session; a cancel ends them too.
TEST_F(RedTeamRuntimeTest, ApptainerTasksDoNotOutliveTheirJob) {
  ASSERT_EQ(Shell("sed -i 's/^  greet) greet ;;$/  greet) greet ;;\\n"
                  "  spawn) setsid sleep 7341 \\& echo spawned ;;\\n"
                  "  spawnwait) setsid sleep 7342 \\& echo spawned; exec sleep 7343 ;;/' " +
                  alice_cube_ + "/build/hello.sh"),
            0);
  std::ofstream(alice_cube_ + "/mlcube.yaml", std::ios::app)
      << "  spawn:\n    parameters: {inputs: {}, outputs: {}}\n"
      << "  spawnwait:\n    parameters: {inputs: {}, outputs: {}}\n";
  PushAlice();
  v1::Job job;
  ASSERT_TRUE(Submit("alice", SingularityRun("spawn"), &job).ok());
  auto stub = Jobs("alice");
  WatchResult watch = Watch(*stub, job.id(), 0, true, nullptr, 120);
  EXPECT_THAT(watch.out, HasSubstr("spawned")) << watch.agent << watch.err;
  ASSERT_FALSE(watch.states.empty());
  EXPECT_EQ(watch.states.back().state(), v1::JOB_STATE_SUCCEEDED) << watch.agent << watch.err;
  std::string left;
  EXPECT_TRUE(ProcessesGone("sleep 7341", &left)) << "a task's process outlived its job:\n" << left;

  ASSERT_TRUE(Submit("alice", SingularityRun("spawnwait"), &job).ok());
  WatchResult started = WatchUntilOutput(*stub, job.id(), "spawned");
  ASSERT_THAT(started.out, HasSubstr("spawned")) << started.agent << started.err;
  ASSERT_NE(ProcessesWith("sleep 7342"), "");
  grpc::ClientContext ctx;
  v1::CancelJobRequest cancel;
  cancel.set_job_id(job.id());
  v1::Job cancelled;
  ASSERT_TRUE(stub->CancelJob(&ctx, cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.state(), v1::JOB_STATE_CANCELLED);
  EXPECT_TRUE(ProcessesGone("sleep 734[23]", &left))
      << "cancel left the task's processes running:\n"
      << left;
  ExpectBobUnharmedAndServed();
}

}  // namespace
}  // namespace mlcube_test
