// Tasks never run with the agent's own power: on a shared agent (as the
// unprivileged `mlcube` user in the docker group, real Docker, two mutual-TLS
// identities) each identity's tasks run as a uid of its own, and one
// identity's tree is unreadable by another's task uid even when it is
// bind-mounted straight into that task (what a raced mount would do).

#include <acl/libacl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/digest.h"
#include "controller/sync/sync_client.h"
#include "mlcube_remote/v1/jobs.grpc.pb.h"
#include "tests/integration/jobs_client.h"
#include "tests/integration/two_identity_agent.h"
#include "tests/support/command_runner.h"
#include "tests/support/hello_cube.h"

namespace mlcube_test {
namespace {

namespace v1 = ::mlcube_remote::v1;
using ::mlcube::testing::CommandResult;
using ::mlcube::testing::ReadFileContent;
using ::testing::HasSubstr;
using ::testing::Not;

// alice's mapped task uid (no account has it: checked).
constexpr uid_t kAliceUid = 3100777;
constexpr uid_t kPoolFirst = 3100800;
constexpr uid_t kPoolLast = 3100899;

// The probe cube's entry point (busybox sh): `whoami` writes the task's
// uid, gid and a result file into its output; `hide` writes a directory
// and a file the agent could not read (0600 in a directory it then makes
// 000). Commands go through busybox by name: the bare image has no applet
// links, so no `chmod` of its own.
constexpr char kProbeScript[] = R"SH(#!/bin/sh
task=$1
shift
for arg in "$@"; do
  case "$arg" in
    --out=*) out=${arg#--out=} ;;
    --victim=*) victim=${arg#--victim=} ;;
  esac
done
case "$task" in
  whoami)
    id -u > "$out/uid.txt"
    id -g > "$out/gid.txt"
    echo "result of $(id -u)" > "$out/result.txt"
    echo "task uid $(id -u)"
    ;;
  flip)
    # Swaps $out/flip between a directory of its own and a link to
    # $FLIP_TARGET, as fast as it can, for $FLIP_SECONDS.
    end=$(( $(date +%s) + FLIP_SECONDS ))
    echo flipping
    while [ "$(date +%s)" -lt "$end" ]; do
      rm -rf "$out/flip"; ln -s "$FLIP_TARGET" "$out/flip"
      rm -f "$out/flip"; mkdir "$out/flip"
    done
    ;;
  peek)
    # Who owns what is mounted at --victim, and what of it can be read.
    { stat -c '%u %i' "$victim"; cat "$victim/secret.txt" 2>&1; ls "$victim" 2>&1; } \
      > "$out/$(hostname).txt"
    ;;
  hide)
    /bin/busybox mkdir -p "$out/hidden" && echo x > "$out/hidden/f" &&
      /bin/busybox chmod 600 "$out/hidden/f" && /bin/busybox chmod 000 "$out/hidden"
    ;;
esac
)SH";

constexpr char kProbeCube[] = R"(name: probe
docker: {image: IMAGE, build_context: build, build_file: Dockerfile, build_strategy: auto}
tasks:
  whoami: {parameters: {outputs: {out: {type: directory, default: out/}}}}
  hide: {parameters: {outputs: {out: {type: directory, default: hideout/}}}}
  flip: {parameters: {outputs: {out: {type: directory, default: flipper/}}}}
  peek:
    parameters:
      inputs: {victim: {type: directory, default: flipper/flip/, opts: ro}}
      outputs: {out: {type: directory, default: peeks/}}
)";

class TaskUserIsolationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(MLCUBE_SOURCE_DIR "/examples/hello/build/busybox", X_OK), 0)
        << "run tools/prepare-examples.sh first (copies busybox into examples/hello/build)";
    ASSERT_EQ(Shell("docker info >/dev/null 2>&1"), 0) << "start Docker: tools/start-docker.sh";
    ASSERT_EQ(getpwuid(kAliceUid), nullptr) << "uid " << kAliceUid << " must not be an account";
    // Builds of the probe cube are tagged by its image name: start from none.
    Shell(
        "docker images --format '{{.Repository}}:{{.Tag}}' | grep ':mlcube_probe_' | "
        "xargs -r docker rmi -f >/dev/null 2>&1");
  }

  void StartAgent(const std::string& task_users) {
    agents_ = std::make_unique<TwoIdentityAgent>(task_users, "mlcube");
    ASSERT_TRUE(agents_->Start());
  }

  static std::string Pool() {
    return absl::StrCat("task_users: {map: {cn-alice: ", kAliceUid, "}, pool: \"", kPoolFirst, "-",
                        kPoolLast, "\"}\n");
  }

  // A probe cube of `user`'s on the laptop, with a secret and files of
  // modes 0644 and 0755.
  // `bare`: an image with busybox alone, no `chmod` on its PATH.
  std::string ProbeCube(const std::string& user, bool bare = false) {
    const std::string cube = agents_->root() + "/" + user + (bare ? "-bare" : "-probe");
    EXPECT_TRUE(::mlcube::testing::CopyHelloCube(cube));
    std::string yaml = kProbeCube;
    yaml.replace(yaml.find("IMAGE"), 5, bare ? "mlcube/probe-bare:0.1" : "mlcube/probe:0.1");
    std::ofstream(cube + "/mlcube.yaml", std::ios::trunc) << yaml;
    if (bare) {
      std::ofstream(cube + "/build/Dockerfile", std::ios::trunc)
          << "FROM scratch\nCOPY busybox /bin/busybox\nCOPY hello.sh /hello.sh\n"
             "ENTRYPOINT [\"/bin/busybox\", \"sh\", \"/hello.sh\"]\n";
    }
    std::ofstream(cube + "/build/hello.sh", std::ios::trunc) << kProbeScript;
    std::ofstream(cube + "/workspace/secret.txt") << Secret(user) << "\n";
    std::ofstream(cube + "/workspace/data.txt") << "data\n";
    std::ofstream(cube + "/workspace/run.sh") << "#!/bin/sh\n";
    EXPECT_EQ(Shell("chmod 0644 " + cube + "/workspace/data.txt " + cube +
                    "/workspace/secret.txt && chmod 0755 " + cube + "/workspace/run.sh"),
              0);
    return cube;
  }

  static std::string Secret(const std::string& user) {
    return absl::StrCat(user, "-secret-", getpid());
  }

  CommandResult Run(const std::string& user, const std::string& cube, const std::string& task) {
    return agents_->As(user, {"run", "--mlcube=" + cube, "--task=" + task});
  }

  std::string CubeRoot(const std::string& user, const std::string& cube) {
    return agents_->agent().state_dir() + "/cubes/cn-" + user + "/" +
           ::mlcube::SyncClient::DefaultCubeId(cube);
  }

  // bob's built image (any busybox image would do for the mounts).
  std::string BobImage() {
    std::string image;
    Shell(
        "docker images --format '{{.Repository}}:{{.Tag}}' | grep '^mlcube-local/cn-bob:' | "
        "head -1 | tr -d '\\n'",
        &image);
    return image;
  }

  // Runs `script` in a container of `image` as `uid` with `host_dir`
  // bind-mounted at /victim, as a raced mount would give a task.
  int AsUidWithMount(uid_t uid, const std::string& host_dir, const std::string& image,
                     const std::string& script, std::string* out) {
    return Shell(
        absl::StrCat("docker run --rm --user ", uid, ":", uid, " -v '", host_dir,
                     "':/victim:ro --entrypoint /bin/sh ", image, " -c '", script, "' 2>&1"),
        out);
  }

  std::unique_ptr<TwoIdentityAgent> agents_;
};

TEST_F(TaskUserIsolationTest, TasksRunAsTheirIdentitysUid) {
  ASSERT_NO_FATAL_FAILURE(StartAgent(Pool()));
  const std::string alice = ProbeCube("alice");
  const std::string bob = ProbeCube("bob");
  CommandResult a = Run("alice", alice, "whoami");
  ASSERT_EQ(a.exit_code, 0) << a.out << a.err << agents_->agent().Stderr();
  EXPECT_EQ(ReadFileContent(alice + "/workspace/out/uid.txt"), absl::StrCat(kAliceUid, "\n"));
  EXPECT_EQ(ReadFileContent(alice + "/workspace/out/gid.txt"), absl::StrCat(kAliceUid, "\n"));

  CommandResult b = Run("bob", bob, "whoami");
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err << agents_->agent().Stderr();
  const uid_t bob_uid = agents_->TaskUid("cn-bob");
  EXPECT_GE(bob_uid, kPoolFirst);
  EXPECT_LE(bob_uid, kPoolLast);
  EXPECT_NE(bob_uid, agents_->agent().uid());
  EXPECT_EQ(ReadFileContent(bob + "/workspace/out/uid.txt"), absl::StrCat(bob_uid, "\n"));
  EXPECT_THAT(b.out, HasSubstr(absl::StrCat("task uid ", bob_uid)));
  // On the host the outputs are the task uid's, and nobody else's to read.
  struct stat st;
  ASSERT_EQ(stat((CubeRoot("bob", bob) + "/workspace/out/result.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, bob_uid);
  EXPECT_EQ(st.st_mode & 07, 0u);

  // The pool uid stays the same for the next job.
  CommandResult again = Run("bob", bob, "whoami");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(ReadFileContent(bob + "/workspace/out/uid.txt"), absl::StrCat(bob_uid, "\n"));
}

// What a raced mount gives a task: another identity's tree mounted straight
// into it, below every parent directory's permissions. alice's uid reads
// nothing of bob's, neither what he pushed nor what his task wrote; bob's
// own uid reads it (so the check can fail).
TEST_F(TaskUserIsolationTest, AnotherIdentitysTreeIsUnreadableEvenMountedIntoATask) {
  ASSERT_NO_FATAL_FAILURE(StartAgent(Pool()));
  const std::string bob = ProbeCube("bob");
  CommandResult b = Run("bob", bob, "whoami");
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err << agents_->agent().Stderr();
  const uid_t bob_uid = agents_->TaskUid("cn-bob");
  ASSERT_NE(bob_uid, 0u);
  const std::string image = BobImage();
  ASSERT_FALSE(image.empty());
  const std::string root = CubeRoot("bob", bob);
  const std::string secret = Secret("bob");

  for (const std::string& mounted : {root, root + "/workspace", root + "/workspace/out"}) {
    std::string out;
    EXPECT_NE(AsUidWithMount(kAliceUid, mounted, image,
                             "cat /victim/secret.txt /victim/workspace/secret.txt "
                             "/victim/result.txt /victim/out/result.txt; ls /victim",
                             &out),
              0)
        << mounted << ": " << out;
    EXPECT_THAT(out, Not(HasSubstr(secret))) << mounted;
    EXPECT_THAT(out, Not(HasSubstr("result of"))) << mounted;
    EXPECT_THAT(out, HasSubstr("Permission denied")) << mounted;
  }
  std::string own;
  EXPECT_EQ(AsUidWithMount(bob_uid, root + "/workspace", image,
                           "cat /victim/secret.txt /victim/out/result.txt", &own),
            0)
      << own;
  EXPECT_THAT(own, HasSubstr(secret));
  EXPECT_THAT(own, HasSubstr(absl::StrCat("result of ", bob_uid)));
  // No other bits on disk anywhere in bob's workspace.
  std::string readable;
  Shell("find '" + root + "/workspace' -perm /007 ! -type l", &readable);
  EXPECT_EQ(readable, "");
}

// Outputs the task wrote as its own uid come back to the laptop; files
// pushed 0644 and 0755 come back with those modes.
TEST_F(TaskUserIsolationTest, OutputsPullAndPushedModesComeBackUnchanged) {
  ASSERT_NO_FATAL_FAILURE(StartAgent(Pool()));
  const std::string bob = ProbeCube("bob");
  CommandResult b = Run("bob", bob, "whoami");
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err << agents_->agent().Stderr();
  EXPECT_THAT(ReadFileContent(bob + "/workspace/out/result.txt"), HasSubstr("result of "));

  // A second laptop copy of the cube, pulled from the agent.
  const std::string fresh = agents_->root() + "/bob-fresh";
  ASSERT_EQ(Shell("mkdir -p " + fresh + " && cp " + bob + "/mlcube.yaml " + fresh), 0);
  CommandResult pull = agents_->As("bob", {"sync", "pull", "--mlcube=" + fresh,
                                           "--cube-id=" + ::mlcube::SyncClient::DefaultCubeId(bob),
                                           "--path=data.txt", "--path=run.sh", "--path=out"});
  ASSERT_EQ(pull.exit_code, 0) << pull.out << pull.err;
  struct stat st;
  ASSERT_EQ(stat((fresh + "/workspace/data.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  ASSERT_EQ(stat((fresh + "/workspace/run.sh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_THAT(ReadFileContent(fresh + "/workspace/out/result.txt"), HasSubstr("result of "));
}

TEST_F(TaskUserIsolationTest, AnIdentityWithoutATaskUidIsRefusedNamingTaskUsers) {
  ASSERT_NO_FATAL_FAILURE(
      StartAgent(absl::StrCat("task_users: {map: {cn-alice: ", kAliceUid, "}}\n")));
  const std::string bob = ProbeCube("bob");
  CommandResult b = Run("bob", bob, "whoami");
  EXPECT_NE(b.exit_code, 0);
  EXPECT_THAT(b.err, HasSubstr("task_users"));
  EXPECT_THAT(b.err, HasSubstr("mlcube-remote agent install"));
  EXPECT_EQ(access((bob + "/workspace/out/uid.txt").c_str(), F_OK), -1);
  const std::string alice = ProbeCube("alice");
  CommandResult a = Run("alice", alice, "whoami");
  EXPECT_EQ(a.exit_code, 0) << a.out << a.err;
}

// Apptainer and Slurm run tasks as the agent's user: a shared agent runs
// them only for its owner and points everyone else to a per-user agent.
TEST_F(TaskUserIsolationTest, ApptainerAndSlurmAreRefusedForAnotherIdentity) {
  ASSERT_NO_FATAL_FAILURE(StartAgent(Pool()));
  const std::string bob = ProbeCube("bob");
  CommandResult push = agents_->As("bob", {"sync", "push", "--mlcube=" + bob});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  auto jobs = v1::Jobs::NewStub(agents_->Channel("bob"));
  v1::SubmitJobRequest apptainer =
      RunRequest(::mlcube::SyncClient::DefaultCubeId(bob), "whoami", v1::RUNTIME_SINGULARITY);
  v1::SubmitJobRequest slurm = apptainer;
  slurm.set_scheduler("slurm");
  for (const v1::SubmitJobRequest& request : {apptainer, slurm}) {
    grpc::ClientContext ctx;
    v1::Job job;
    grpc::Status status = jobs->SubmitJob(&ctx, request, &job);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << job.id();
    EXPECT_THAT(status.error_message(), HasSubstr("mlcube-remote agent install --host=H"));
    EXPECT_THAT(status.error_message(), HasSubstr("agent's own user"));
  }
}

// What the peeks of the race below did, told apart by what each saw.
struct PeekTally {
  int ended = 0;
  int failed = 0;       // the agent refused the mount, or the container did not start
  int mounted_own = 0;  // mounted and read a directory that is not bob's
  int won = 0;          // mounted bob's workspace (its inode) or read his data
  std::map<std::string, int> reasons;  // why the failed peeks failed
  std::string seen;                    // every peek's output
};

// Peeks raced against the flipper, and how many must have mounted and read
// for the race to count as run (about one in eight does, here).
constexpr int kRacePeeks = 100;
constexpr int kRaceMinimumMounted = 2;

v1::JobState GetState(v1::Jobs::Stub& jobs, const std::string& id) {
  grpc::ClientContext ctx;
  v1::GetJobRequest get;
  get.set_job_id(id);
  v1::Job job;
  return jobs.GetJob(&ctx, get, &job).ok() ? job.state() : v1::JOB_STATE_UNSPECIFIED;
}

// Waits (up to 5 minutes) until every peek has ended; counts the ended and
// the failed ones, by reason.
PeekTally WaitForPeeks(v1::Jobs::Stub& jobs, const std::vector<std::string>& peeks) {
  PeekTally tally;
  for (int wait = 0; wait < 1500; ++wait) {
    tally = PeekTally();
    for (const std::string& id : peeks) {
      grpc::ClientContext ctx;
      v1::GetJobRequest get;
      get.set_job_id(id);
      v1::Job job;
      if (!jobs.GetJob(&ctx, get, &job).ok()) continue;
      if (job.state() == v1::JOB_STATE_FAILED) {
        ++tally.failed;
        ++tally.reasons[job.reason()];
      }
      tally.ended += job.state() == v1::JOB_STATE_SUCCEEDED || job.state() == v1::JOB_STATE_FAILED;
    }
    if (tally.ended == static_cast<int>(peeks.size())) break;
    usleep(200 * 1000);
  }
  return tally;
}

// Reads each peek's output ("UID INODE" of what was mounted, then what it
// could read) and counts the mounts of bob's workspace (`bob_inode`) or of
// anything that showed his data (`bob_secret`, his task's output) as won.
void TallyPeekOutputs(const std::string& dir, ino_t bob_inode, const std::string& bob_secret,
                      PeekTally* tally) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string seen = ReadFileContent(entry.path().string());
    tally->seen += entry.path().filename().string() + ": " + seen;
    const size_t space = seen.find(' ');
    const size_t end = seen.find('\n');
    if (space == std::string::npos || end == std::string::npos || space > end) continue;
    uint64_t inode = 0;
    if (!absl::SimpleAtoi(seen.substr(space + 1, end - space - 1), &inode)) continue;
    if (inode == bob_inode || seen.find(bob_secret) != std::string::npos ||
        seen.find("result of") != std::string::npos) {
      ++tally->won;
    } else {
      ++tally->mounted_own;
    }
  }
}

// The race itself, as the attack did it: alice's task swaps a directory of
// its workspace for a link to bob's workspace, without pause, while 100 jobs
// of hers mount that directory. A peek that mounted what the agent checked
// sees a directory of alice's; a peek that sees bob's workspace (its inode
// number) won the race. The flipper must outlast every peek and some peeks
// must have mounted and read, or the race was not run.
//
// Before the agent froze an identity's other containers while it checked
// and started a step, 12 of 48 peeks here mounted bob's workspace.
TEST_F(TaskUserIsolationTest, AMountRacedOntoAnotherIdentitysWorkspaceReadsNothing) {
  ASSERT_NO_FATAL_FAILURE(StartAgent(Pool() + "max_concurrent_jobs: 32\n"));
  const std::string bob = ProbeCube("bob");
  CommandResult b = Run("bob", bob, "whoami");
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  const std::string alice = ProbeCube("alice");
  CommandResult a = Run("alice", alice, "whoami");  // builds her image
  ASSERT_EQ(a.exit_code, 0) << a.out << a.err;
  const std::string bob_workspace = CubeRoot("bob", bob) + "/workspace";
  struct stat bob_stat;
  ASSERT_EQ(stat(bob_workspace.c_str(), &bob_stat), 0);
  const std::string alice_id = ::mlcube::SyncClient::DefaultCubeId(alice);
  auto jobs = v1::Jobs::NewStub(agents_->Channel("alice"));
  v1::SubmitJobRequest flip = RunRequest(alice_id, "flip");
  (*flip.mutable_env())["FLIP_TARGET"] = bob_workspace;
  (*flip.mutable_env())["FLIP_SECONDS"] = "600";  // a bound: it is cancelled below
  v1::Job flipper;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(jobs->SubmitJob(&ctx, flip, &flipper).ok());
  }
  ASSERT_THAT(WatchUntilOutput(*jobs, flipper.id(), "flipping").out, HasSubstr("flipping"));
  std::vector<std::string> peeks;
  for (int i = 0; i < kRacePeeks; ++i) {
    grpc::ClientContext ctx;
    v1::Job job;
    ASSERT_TRUE(jobs->SubmitJob(&ctx, RunRequest(alice_id, "peek"), &job).ok());
    peeks.push_back(job.id());
  }
  PeekTally tally = WaitForPeeks(*jobs, peeks);
  // Still flipping after the last peek ended: every peek ran during the race.
  EXPECT_EQ(GetState(*jobs, flipper.id()), v1::JOB_STATE_RUNNING);
  {
    grpc::ClientContext ctx;
    v1::CancelJobRequest cancel;
    cancel.set_job_id(flipper.id());
    v1::Job job;
    jobs->CancelJob(&ctx, cancel, &job);
  }
  TallyPeekOutputs(CubeRoot("alice", alice) + "/workspace/peeks", bob_stat.st_ino, Secret("bob"),
                   &tally);
  std::cout << "mount race: " << tally.ended << " of " << peeks.size() << " peeks ended; "
            << tally.failed << " failed, " << tally.mounted_own << " mounted one not bob's, "
            << tally.won << " won (bob's workspace)\n";
  for (const auto& [reason, count] : tally.reasons) {
    std::cout << "  failed " << count << "x: " << reason << "\n";
  }
  std::cout << "what the peeks saw:\n" << tally.seen;
  EXPECT_EQ(tally.ended, kRacePeeks);
  EXPECT_GE(tally.mounted_own + tally.won, kRaceMinimumMounted)
      << "too few peeks mounted and read: the race was not run";
  EXPECT_EQ(tally.won, 0) << "a peek mounted bob's workspace";
  EXPECT_THAT(tally.seen, Not(HasSubstr(Secret("bob"))));
  EXPECT_THAT(tally.seen, Not(HasSubstr("result of")));  // bob's task's output
}

// A workspace made before workspaces had access lists (other bits on
// disk, no default list) is made private when the agent starts, before any
// job of its own runs.
// Another agent on the same Docker engine froze its tasks while it starts
// one: an agent starting up thaws only containers it froze itself, so no
// agent reopens another's race window (each labels its containers with a
// hash of its state directory).
TEST_F(TaskUserIsolationTest, StartUpThawsOnlyThisAgentsFrozenContainers) {
  ASSERT_NO_FATAL_FAILURE(StartAgent(Pool()));
  const std::string mine = ::mlcube::DigestOf(agents_->agent().state_dir()).hash().substr(0, 16);
  ASSERT_EQ(
      Shell("printf 'FROM scratch\\nCOPY busybox /bin/busybox\\n' | docker build -q -t "
            "mlcube-freeze-test:1 -f - " MLCUBE_SOURCE_DIR "/examples/hello/build >/dev/null"),
      0)
      << "run tools/prepare-examples.sh first (copies busybox into examples/hello/build)";
  auto start_paused = [&](const std::string& name, const std::string& instance) {
    return Shell("docker rm -f " + name + " >/dev/null 2>&1; docker run -d --name " + name +
                 " --label mlcube-agent.owner=cn-alice --label mlcube-agent.instance=" + instance +
                 " mlcube-freeze-test:1 /bin/busybox sleep 600 >/dev/null && docker pause " + name +
                 " >/dev/null");
  };
  const std::string ours = "mlcube-freeze-test-ours-" + std::to_string(getpid());
  const std::string theirs = "mlcube-freeze-test-theirs-" + std::to_string(getpid());
  struct Remover {
    std::string names;
    ~Remover() { Shell("docker rm -f " + names + " >/dev/null 2>&1"); }
  } remover{ours + " " + theirs};
  ASSERT_EQ(start_paused(ours, mine), 0);
  ASSERT_EQ(start_paused(theirs, "another-agent"), 0);
  agents_->agent().Kill(SIGTERM);
  ASSERT_TRUE(agents_->agent().Start());
  auto is = [&](const std::string& name, const std::string& state) {
    return Shell("test \"$(docker inspect -f '{{.State.Status}}' " + name + ")\" = " + state) == 0;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!is(ours, "running") && std::chrono::steady_clock::now() < deadline) {
    usleep(100 * 1000);
  }
  EXPECT_TRUE(is(ours, "running")) << agents_->agent().Stderr();
  EXPECT_TRUE(is(theirs, "paused"));
}

TEST_F(TaskUserIsolationTest, OlderTreesArePrivateOnceTheAgentRestarts) {
  ASSERT_NO_FATAL_FAILURE(StartAgent(Pool()));
  const std::string bob = ProbeCube("bob");
  CommandResult b = Run("bob", bob, "whoami");
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  const std::string workspace = CubeRoot("bob", bob) + "/workspace";
  const std::string secret = workspace + "/secret.txt";
  agents_->agent().Kill(SIGTERM);
  // As an older agent left it.
  ASSERT_EQ(acl_delete_def_file(workspace.c_str()), 0);
  ASSERT_EQ(Shell("chmod o+rx '" + workspace + "' && chmod o+r '" + secret + "'"), 0);
  struct stat st;
  ASSERT_EQ(stat(secret.c_str(), &st), 0);
  ASSERT_NE(st.st_mode & 04, 0u);
  ASSERT_TRUE(agents_->agent().Start());
  bool private_again = false;
  for (int i = 0; i < 100 && !private_again; ++i) {
    private_again = stat(secret.c_str(), &st) == 0 && (st.st_mode & 07) == 0;
    if (!private_again) usleep(50 * 1000);
  }
  EXPECT_TRUE(private_again) << agents_->agent().Stderr();
  acl_t dflt = acl_get_file(workspace.c_str(), ACL_TYPE_DEFAULT);
  ASSERT_NE(dflt, nullptr);
  EXPECT_GT(acl_entries(dflt), 3);  // the agent's and bob's task uid named
  acl_free(dflt);
}

// A task may make its files unreadable to the agent (0600, a directory
// 000): after the task the agent repairs them as the task's uid (chmod in
// its image), so they pull.
TEST_F(TaskUserIsolationTest, FilesATaskHidFromTheAgentAreRepairedAsItsUid) {
  ASSERT_NO_FATAL_FAILURE(StartAgent(Pool()));
  const std::string bob = ProbeCube("bob");
  CommandResult hide = Run("bob", bob, "hide");
  EXPECT_EQ(hide.exit_code, 0) << hide.out << hide.err << agents_->agent().Stderr();
  EXPECT_EQ(ReadFileContent(bob + "/workspace/hideout/hidden/f"), "x\n");
}

// Without `chmod` in the image they cannot be repaired: the pull fails
// naming them, so does deleting the cube, and the agent goes on serving.
TEST_F(TaskUserIsolationTest, FilesThatCannotBeRepairedFailThePullNamingThem) {
  ASSERT_NO_FATAL_FAILURE(StartAgent(Pool()));
  const std::string bob = ProbeCube("bob", /*bare=*/true);
  CommandResult hide = Run("bob", bob, "hide");
  EXPECT_NE(hide.exit_code, 0) << hide.out;
  EXPECT_THAT(hide.err, HasSubstr("hideout"));
  EXPECT_THAT(hide.err, HasSubstr("/hidden"));
  EXPECT_THAT(hide.err, HasSubstr("not readable by the agent"));
  EXPECT_THAT(hide.err, HasSubstr("files it made unreadable to the agent stay so"));
  CommandResult del = agents_->As("bob", {"sync", "delete", "--mlcube=" + bob, "--yes"});
  EXPECT_NE(del.exit_code, 0) << del.out;
  EXPECT_THAT(del.err, HasSubstr("/hidden"));
  EXPECT_THAT(del.err, HasSubstr("not readable by the agent"));
  const std::string other = ProbeCube("bob");
  CommandResult b = Run("bob", other, "whoami");
  EXPECT_EQ(b.exit_code, 0) << b.out << b.err << agents_->agent().Stderr();
}

}  // namespace
}  // namespace mlcube_test
